#include "initializer/initializer.h"

#include <openssl/crypto.h>

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <iostream>
#include <optional>
#include <random>
#include <thread>

#include "attest/evidence_verifier.h"
#include "common/files.h"
#include "common/time.h"
#include "contrast/meshapi.grpc.pb.h"
#include "crypto/x509.h"
#include "session/protocol.h"

namespace contrast::initializer {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// Upper bound for each PEM field of the Coordinator's answer.
constexpr size_t kMaxPemField = 1 << 20;

constexpr unsigned kCertificateMode = 0444;
constexpr unsigned kKeyMode = 0400;

Error Usage(std::string message) { return Error{ErrorCode::kInvalidArgument, std::move(message)}; }

bool IsHostNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.' || c == '_';
}

Result<uint16_t> ParsePort(std::string_view text, std::string_view value) {
  unsigned port = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || port == 0 || port > 65535) {
    return Fail(Usage(std::string(kCoordinatorHostEnv) + " \"" + std::string(value) + "\": port \"" +
                      std::string(text) + "\" is not a number in 1..65535"));
  }
  return static_cast<uint16_t>(port);
}

bool IsIpv6(std::string_view text) {
  in6_addr address{};
  return ::inet_pton(AF_INET6, std::string(text).c_str(), &address) == 1;
}

// ---- The exchange ------------------------------------------------------

// What the Coordinator's evidence is checked with, for the attempts of one
// run. Without an expected identity it only names the mode.
struct CoordinatorCheck {
  // Offline verifier: the Coordinator's evidence must carry its VCEK.
  explicit CoordinatorCheck(const ExpectedCoordinator* expected_coordinator) : expected(expected_coordinator) {}
  CoordinatorCheck(const ExpectedCoordinator* expected_coordinator, const attest::EvidenceVerifierOptions& options)
      : expected(expected_coordinator), verifier(options) {}

  const ExpectedCoordinator* expected;  // nullptr: not attested
  attest::EvidenceVerifier verifier;
  session::NonceTracker nonces;
};

struct Exchanged {
  v1::NewMeshCertResponse response;
  std::optional<manifest::PolicyHash> coordinator_policy;  // set when attested
};

// The server's reason when a step failed because it ended the call
// (kNetwork and a non-OK final status); nullopt when our own check failed
// (the session cancels the call when it goes away).
std::optional<Error> ServerEndedCall(session::ClientSession& call, const Error& local) {
  if (local.code != ErrorCode::kNetwork) return std::nullopt;
  auto final_status = call.Finish();
  if (final_status) return std::nullopt;
  return final_status.error();
}

// The Coordinator's evidence step when there is nothing to check it
// against: the server always attests, so the challenge is sent and the
// evidence frame read, but nothing in it is trusted.
Status ReadUncheckedEvidence(session::ClientStream& stream, session::NonceTracker& nonces) {
  auto nonce = nonces.Issue();
  if (!nonce) return Fail(nonce.error());
  v1::SessionFrame challenge;
  challenge.mutable_challenge()->set_nonce(std::string(AsChars(*nonce)));
  (void)nonces.Consume(*nonce);  // never checked
  if (!stream.Write(challenge)) {
    return Fail(ErrorCode::kNetwork, "the server ended the stream before the challenge could be sent");
  }
  v1::SessionFrame frame;
  if (!stream.Read(&frame)) return Fail(ErrorCode::kNetwork, "the server ended the stream before sending evidence");
  if (frame.kind_case() != v1::SessionFrame::kEvidence) {
    return Fail(ErrorCode::kInvalidArgument, "protocol violation: expected evidence from the Coordinator");
  }
  return {};
}

// request -> our evidence -> the Coordinator's evidence -> response. Nothing
// of the response is read before the Coordinator passed. `coordinator_refused`
// tells our verdict on the Coordinator from the Coordinator's on us.
Result<Exchanged> Exchange(const std::string& target, const session::SessionIdentity& identity, attest::Issuer& issuer,
                           CoordinatorCheck& check, milliseconds deadline, bool& coordinator_refused) {
  coordinator_refused = false;
  auto channel = session::CreateSessionChannel(target, identity);
  if (!channel) return Fail(channel.error());
  auto stub = v1::MeshAPI::NewStub(*channel);
  session::ClientStream* stream = nullptr;  // owned by `call`
  session::ClientSession call(
      [&](grpc::ClientContext* context) {
        auto started = stub->NewMeshCert(context);
        stream = started.get();
        return started;
      },
      deadline);
  if (auto sent = call.Send(v1::NewMeshCertRequest{}); !sent) return Fail(sent.error());
  if (auto attested = call.AttestSelf(session::Role::kWorkload, issuer, identity.spki_der()); !attested) {
    return Fail(attested.error());
  }
  Exchanged out;
  if (stream == nullptr) return Fail(ErrorCode::kInternal, "the stub did not start a stream");
  if (check.expected != nullptr) {
    auto coordinator = session::AttestPeerOnClient(stream, call.context(), session::Role::kCoordinator, check.verifier,
                                                   check.expected->reference_values, check.nonces);
    if (!coordinator) {
      if (auto server = ServerEndedCall(call, coordinator.error())) return Fail(*server);
      coordinator_refused = true;
      return Fail(coordinator.error().Wrap("the Coordinator at " + target + " failed attestation, refusing it"));
    }
    out.coordinator_policy = manifest::PolicyHash{coordinator->host_data()};
  } else if (auto read = ReadUncheckedEvidence(*stream, check.nonces); !read) {
    if (auto server = ServerEndedCall(call, read.error())) return Fail(*server);
    return Fail(read.error());
  }
  if (auto received = call.Receive(&out.response); !received) return Fail(received.error());
  if (auto finished = call.Finish(); !finished) return Fail(finished.error());
  return out;
}

Result<std::vector<crypto::Certificate>> ParseField(const std::string& pem, std::string_view field, size_t min_count,
                                                    size_t max_count) {
  if (pem.empty()) return Fail(ErrorCode::kParse, std::string(field) + ": empty");
  if (pem.size() > kMaxPemField) {
    return Fail(ErrorCode::kParse, std::string(field) + ": " + std::to_string(pem.size()) +
                                       " bytes exceed the limit of " + std::to_string(kMaxPemField));
  }
  auto certificates = crypto::Certificate::ParsePemChain(pem);
  if (!certificates) return Fail(certificates.error().Wrap(field));
  if (certificates->size() < min_count || certificates->size() > max_count) {
    return Fail(ErrorCode::kParse,
                std::string(field) + ": expected " +
                    (min_count == max_count ? std::to_string(min_count)
                                            : std::to_string(min_count) + ".." + std::to_string(max_count)) +
                    " certificate(s), got " + std::to_string(certificates->size()));
  }
  return certificates;
}

// The answer is untrusted: check that it is what a Coordinator issues for
// our key before anything is written.
Result<MeshCredentials> CheckAnswer(const v1::NewMeshCertResponse& response, const session::SessionIdentity& identity) {
  auto mesh_ca = ParseField(response.mesh_ca(), "mesh_ca", 1, 1);
  if (!mesh_ca) return Fail(mesh_ca.error());
  auto root = ParseField(response.root_ca(), "root_ca", 1, 1);
  if (!root) return Fail(root.error());
  auto chain = ParseField(response.cert_chain(), "cert_chain", 2, 2);
  if (!chain) return Fail(chain.error());

  auto leaf_spki = session::SpkiDerFromCertificatePem(response.cert_chain());
  if (!leaf_spki) return Fail(leaf_spki.error().Wrap("cert_chain: leaf"));
  if (*leaf_spki != identity.spki_der()) {
    return Fail(ErrorCode::kCertificateInvalid, "cert_chain: the leaf certificate is not for this Initializer's key");
  }
  if (auto ok = (*chain)[0].VerifySignedBy((*mesh_ca)[0]); !ok) {
    return Fail(ok.error().Wrap("cert_chain: the leaf is not issued by the mesh CA"));
  }
  if (auto ok = (*chain)[1].VerifySignedBy((*root)[0]); !ok) {
    return Fail(ok.error().Wrap("cert_chain: the intermediate is not issued by the root CA"));
  }
  if (!response.workload_secret().empty() && response.workload_secret().size() != 64) {
    return Fail(ErrorCode::kParse, "workload_secret: " + std::to_string(response.workload_secret().size()) +
                                       " bytes, expected 64 or none");
  }
  MeshCredentials credentials;
  credentials.workload_secret_hex = HexEncode(AsBytes(response.workload_secret()));
  credentials.mesh_ca_pem = response.mesh_ca();
  credentials.cert_chain_pem = response.cert_chain();
  credentials.root_ca_pem = response.root_ca();
  credentials.private_key_pem = identity.private_key_pem();
  return credentials;
}

// ---- Retrying ----------------------------------------------------------

// Remembers why the issuer failed, so the loop can tell a local failure to
// produce evidence from the Coordinator's verdict. One attempt at a time.
class ProbingIssuer final : public attest::Issuer {
 public:
  explicit ProbingIssuer(attest::Issuer& inner) : inner_(inner) {}
  std::string_view platform() const override { return inner_.platform(); }
  Result<attest::Evidence> Issue(const attest::ReportData& report_data) override {
    auto evidence = inner_.Issue(report_data);
    if (!evidence) failure_ = evidence.error();
    return evidence;
  }
  void Reset() { failure_.reset(); }
  const std::optional<Error>& failure() const { return failure_; }

 private:
  attest::Issuer& inner_;
  std::optional<Error> failure_;
};

std::string FormatDuration(milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

struct Failure {
  Error error;
  bool fatal = false;
};

struct Accepted {
  MeshCredentials credentials;
  std::optional<manifest::PolicyHash> coordinator_policy;  // set when attested
};

// One attempt, with its failure explained for the log.
Result<Accepted> Attempt(const InitializerConfig& config, const session::SessionIdentity& identity,
                         ProbingIssuer& issuer, CoordinatorCheck& check, milliseconds deadline, Failure& failure) {
  issuer.Reset();
  bool coordinator_refused = false;
  auto exchanged = Exchange(config.coordinator, identity, issuer, check, deadline, coordinator_refused);
  if (!exchanged) {
    const Error& e = exchanged.error();
    if (issuer.failure()) {
      const Error& local = *issuer.failure();
      failure = {local.Wrap("cannot produce attestation evidence"), local.code == ErrorCode::kUnsupported};
    } else if (coordinator_refused) {
      failure = {e};
    } else if (IsAttestationVerdict(e.code)) {
      failure = {
          e.Wrap("the Coordinator rejected this pod's attestation (is the pod's policy hash in the manifest, "
                 "and do the reference values match this platform?)")};
    } else if (e.code == ErrorCode::kNetwork) {
      failure = {e.Wrap("Coordinator at " + config.coordinator + " not reachable")};
    } else if (e.code == ErrorCode::kTimeout) {
      failure = {
          e.Wrap("no answer from the Coordinator at " + config.coordinator + " within " + FormatDuration(deadline))};
    } else {
      failure = {e.Wrap("NewMeshCert at " + config.coordinator)};
    }
    return Fail(failure.error);
  }
  auto checked = CheckAnswer(exchanged->response, identity);
  if (!checked) {
    failure = {checked.error().Wrap("invalid answer from the Coordinator at " + config.coordinator)};
    return Fail(failure.error);
  }
  return Accepted{std::move(*checked), exchanged->coordinator_policy};
}

// The least time worth giving one more attempt before the overall timeout.
constexpr milliseconds kShortestAttempt{100};

Result<MeshCredentials> ObtainMeshCredentials(const InitializerConfig& config, const session::SessionIdentity& identity,
                                              attest::Issuer& issuer, CoordinatorCheck& check) {
  const auto start = Clock::now();
  const auto remaining = [&]() -> std::optional<milliseconds> {
    if (config.timeout.count() == 0) return std::nullopt;
    return config.timeout - std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  };
  ProbingIssuer probe(issuer);
  std::mt19937_64 random(std::random_device{}());
  milliseconds delay = config.retry_initial;
  for (int attempt = 1;; ++attempt) {
    milliseconds deadline = config.attempt_timeout;
    if (auto left = remaining()) deadline = std::max(milliseconds(1), std::min(deadline, *left));
    Failure failure;
    auto accepted = Attempt(config, identity, probe, check, deadline, failure);
    if (accepted) {
      config.log("attempt " + std::to_string(attempt) + ": received a mesh certificate from " +
                 (accepted->coordinator_policy ? "the attested Coordinator at " + config.coordinator + " (policy " +
                                                     accepted->coordinator_policy->Hex() + ")"
                                               : config.coordinator + " (the Coordinator was NOT attested)"));
      return std::move(accepted->credentials);
    }
    if (failure.fatal) {
      config.log("attempt " + std::to_string(attempt) + " failed: " + failure.error.message + "; giving up");
      return Fail(failure.error);
    }
    std::uniform_int_distribution<milliseconds::rep> jitter(delay.count() / 2, delay.count());
    milliseconds wait(jitter(random));
    // Give up unless the next attempt would still get a useful share of the
    // time: an attempt cut down to a few milliseconds can only time out, and
    // would hide the real reason of the last failure.
    const milliseconds shortest_attempt = std::min(kShortestAttempt, config.attempt_timeout);
    const auto left = remaining();
    if (left && wait + shortest_attempt > *left) {
      config.log("attempt " + std::to_string(attempt) + " failed: " + failure.error.message + "; giving up after " +
                 FormatDuration(config.timeout));
      return Fail(ErrorCode::kTimeout, "no mesh certificate from " + config.coordinator + " within " +
                                           FormatDuration(config.timeout) + "; last failure: " + failure.error.message);
    }
    config.log("attempt " + std::to_string(attempt) + " failed: " + failure.error.message + "; retrying in " +
               FormatDuration(wait));
    std::this_thread::sleep_for(wait);
    delay = std::min(delay * 2, config.retry_max);
  }
}

Status CheckConfig(const InitializerConfig& config) {
  if (config.coordinator.empty()) return Fail(Usage("the Coordinator's address is required"));
  if (config.root_dir.empty()) return Fail(Usage("the root directory must not be empty"));
  if (config.retry_initial.count() <= 0) return Fail(Usage("retry-initial must be positive"));
  if (config.retry_max < config.retry_initial) {
    return Fail(Usage("retry-max (" + FormatDuration(config.retry_max) + ") must not be below retry-initial (" +
                      FormatDuration(config.retry_initial) + ")"));
  }
  if (config.timeout.count() < 0) return Fail(Usage("timeout must not be negative"));
  if (config.attempt_timeout.count() <= 0) return Fail(Usage("the attempt timeout must be positive"));
  if (!config.log) return Fail(Usage("a logger is required"));
  return {};
}

}  // namespace

Result<std::string> ParseCoordinatorHost(std::string_view value) {
  const std::string name = kCoordinatorHostEnv;
  const std::string quoted = "\"" + std::string(value) + "\"";
  if (value.empty()) {
    return Fail(Usage(name +
                      " is required: the Coordinator's host name (e.g. coordinator-ready.default), "
                      "optionally with :port (default " +
                      std::to_string(kDefaultMeshApiPort) + ")"));
  }
  if (value.find("://") != std::string_view::npos) {
    return Fail(Usage(name + " " + quoted + ": expected host or host:port, not a URL"));
  }
  std::string_view host = value;
  std::optional<uint16_t> port;
  if (value.front() == '[') {
    const size_t close = value.find(']');
    if (close == std::string_view::npos) return Fail(Usage(name + " " + quoted + ": missing ']'"));
    host = value.substr(1, close - 1);
    const std::string_view rest = value.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return Fail(Usage(name + " " + quoted + ": expected ':port' after ']'"));
      auto parsed = ParsePort(rest.substr(1), value);
      if (!parsed) return Fail(parsed.error());
      port = *parsed;
    }
    if (!IsIpv6(host)) return Fail(Usage(name + " " + quoted + ": not an IPv6 address inside [...]"));
    return "[" + std::string(host) + "]:" + std::to_string(port.value_or(kDefaultMeshApiPort));
  }
  if (std::count(value.begin(), value.end(), ':') > 1) {
    if (!IsIpv6(value)) return Fail(Usage(name + " " + quoted + ": not a host, host:port or IPv6 address"));
    return "[" + std::string(value) + "]:" + std::to_string(kDefaultMeshApiPort);
  }
  if (const size_t colon = value.find(':'); colon != std::string_view::npos) {
    host = value.substr(0, colon);
    auto parsed = ParsePort(value.substr(colon + 1), value);
    if (!parsed) return Fail(parsed.error());
    port = *parsed;
  }
  if (host.empty() || !std::all_of(host.begin(), host.end(), IsHostNameChar) || host.front() == '-' ||
      host.front() == '.') {
    return Fail(Usage(name + " " + quoted +
                      ": the host may only hold letters, digits, '-', '.' and '_' (no scheme, path or spaces)"));
  }
  return std::string(host) + ":" + std::to_string(port.value_or(kDefaultMeshApiPort));
}

Result<milliseconds> ParseDuration(std::string_view text) {
  uint64_t number = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  const std::string_view unit(end, static_cast<size_t>(text.data() + text.size() - end));
  uint64_t factor = 0;
  if (unit.empty() || unit == "s") {
    factor = 1000;
  } else if (unit == "ms") {
    factor = 1;
  } else if (unit == "m") {
    factor = 60'000;
  } else if (unit == "h") {
    factor = 3'600'000;
  }
  constexpr uint64_t kMax = uint64_t{1} << 40;  // about 35 years in ms
  if (text.empty() || ec != std::errc() || end == text.data() || factor == 0 || number > kMax / factor) {
    return Fail(
        Usage("duration \"" + std::string(text) + "\": expected a number with ms, s, m or h (e.g. 500ms, 10s)"));
  }
  return milliseconds(static_cast<milliseconds::rep>(number * factor));
}

Logger StderrLogger() {
  return [](std::string_view line) { std::cerr << FormatRfc3339(Now()) << " contrast-initializer: " << line << "\n"; };
}

Result<MeshCredentials> RequestMeshCredentials(const std::string& target, const session::SessionIdentity& identity,
                                               attest::Issuer& issuer, const ExpectedCoordinator* expected_coordinator,
                                               milliseconds deadline) {
  CoordinatorCheck check(expected_coordinator);
  bool coordinator_refused = false;
  auto exchanged = Exchange(target, identity, issuer, check, deadline, coordinator_refused);
  if (!exchanged) return Fail(exchanged.error());
  return CheckAnswer(exchanged->response, identity);
}

Status WriteMeshCredentials(const fs::path& root_dir, const MeshCredentials& credentials) {
  const fs::path dir = root_dir / "tls-config";
  std::error_code error;
  if (!credentials.workload_secret_hex.empty()) {
    const fs::path secrets = root_dir / "secrets";
    fs::create_directories(secrets, error);
    if (error) return Fail(ErrorCode::kIo, "cannot create " + secrets.string() + ": " + error.message());
    if (auto written = WriteFileAtomic(secrets / "workload-secret-seed", credentials.workload_secret_hex, kKeyMode);
        !written) {
      return Fail(written.error());
    }
  }
  fs::create_directories(dir, error);
  if (error) return Fail(ErrorCode::kIo, "cannot create " + dir.string() + ": " + error.message());
  // The key first: a reader that finds the certificate finds its key too.
  const struct {
    const char* name;
    const std::string& content;
    unsigned mode;
  } files[] = {
      {"key.pem", credentials.private_key_pem, kKeyMode},
      {"certChain.pem", credentials.cert_chain_pem, kCertificateMode},
      {"mesh-ca.pem", credentials.mesh_ca_pem, kCertificateMode},
      {"coordinator-root-ca.pem", credentials.root_ca_pem, kCertificateMode},
  };
  for (const auto& file : files) {
    if (auto written = WriteFileAtomic(dir / file.name, std::string_view(file.content), file.mode); !written) {
      return Fail(written.error());
    }
  }
  return {};
}

Status RunInitializer(const InitializerConfig& config, attest::Issuer& issuer) {
  if (auto ok = CheckConfig(config); !ok) return Fail(ok.error());
  auto identity = session::SessionIdentity::Generate();
  if (!identity) return Fail(identity.error().Wrap("generating the workload key"));
  config.log("requesting a mesh certificate from " + config.coordinator);
  if (config.expected_coordinator) {
    const ExpectedCoordinator& expected = *config.expected_coordinator;
    config.log("the Coordinator must attest with policy " + DescribePolicyHashes(expected.policy_hashes) + " on " +
               (expected.insecure ? "the EMULATED platform (INSECURE: development only)"
                                  : "the platforms of the expected reference values"));
  } else {
    config.log(std::string("WARNING: the Coordinator is NOT attested: ") + kCoordinatorPolicyHashesEnv + " and " +
               kCoordinatorReferenceValuesEnv + " are not set, so whoever answers at " + config.coordinator +
               " can hand this pod its mesh CA and certificates. `contrast generate` sets them in the "
               "Initializers it adds");
  }
  CoordinatorCheck check(config.expected_coordinator ? &*config.expected_coordinator : nullptr, config.verifier);
  auto credentials = ObtainMeshCredentials(config, *identity, issuer, check);
  if (!credentials) return Fail(credentials.error());
  if (auto written = WriteMeshCredentials(config.root_dir, *credentials); !written) return Fail(written.error());
  config.log("wrote mesh-ca.pem, certChain.pem, key.pem and coordinator-root-ca.pem to " +
             (config.root_dir / "tls-config").string() +
             (credentials->workload_secret_hex.empty()
                  ? std::string()
                  : " and the workload secret to " + (config.root_dir / "secrets/workload-secret-seed").string()));
  OPENSSL_cleanse(credentials->workload_secret_hex.data(), credentials->workload_secret_hex.size());
  return {};
}

}  // namespace contrast::initializer
