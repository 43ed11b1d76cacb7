#include "cli/coordinator_commands.h"

#include <unistd.h>

#include <algorithm>
#include <ostream>
#include <set>
#include <thread>

#include <CLI/CLI.hpp>

#include "attestation_policy/reference_values.h"
#include "cli/app.h"
#include "cli/attached_policies.h"
#include "cli/output.h"
#include "common/files.h"
#include "contrast/userapi.grpc.pb.h"
#include "crypto/keys.h"
#include "history/history.h"
#include "manifest/manifest.h"
#include "session/credentials.h"
#include "session/protocol.h"
#include "session/verifier.h"

namespace contrast::cli {
namespace {

using session::Role;

struct LocalManifest {
  Bytes bytes;
  manifest::Manifest parsed;
};

// Reads and validates the manifest; prints every problem.
std::optional<LocalManifest> LoadManifest(const std::filesystem::path& path, std::ostream& err) {
  auto bytes = ReadFile(path, 4 * 1024 * 1024);
  if (!bytes) {
    err << "error: " << bytes.error().message << "\n";
    return std::nullopt;
  }
  auto parsed = manifest::ParseManifestReportingProblems(AsChars(*bytes));
  if (!parsed) {
    err << "error: " << path.string() << " is not a valid manifest:\n";
    for (const std::string& problem : parsed.error()) err << "  " << problem << "\n";
    return std::nullopt;
  }
  return LocalManifest{std::move(*bytes), std::move(*parsed)};
}

// The Coordinator's answer to one attested user-API call, and what its
// attestation showed.
struct Attested {
  std::string platform;
  bool insecure = false;
  std::string policy_hash;
  std::string measurement;
};

// Connects to the Coordinator and makes attested user-API calls, retrying
// while it is unavailable. Every call attests the Coordinator on its own
// stream before sending anything.
class CoordinatorClient {
 public:
  CoordinatorClient(std::string target, const manifest::Manifest& manifest, std::chrono::seconds timeout,
                    std::ostream& out)
      : target_(std::move(target)),
        reference_values_(attestation_policy::CoordinatorReferenceValues(manifest)),
        deadline_(std::chrono::steady_clock::now() + timeout),
        out_(out) {}

  template <typename Request, typename Response, typename Start>
  Result<Attested> Call(Start start, const Request& request, Response* response) {
    auto backoff = std::chrono::milliseconds(500);
    for (;;) {
      auto attested = CallOnce(start, request, response);
      if (attested || !Retryable(attested.error()) || std::chrono::steady_clock::now() + backoff > deadline_) {
        return attested;
      }
      out_ << "waiting for the Coordinator at " << target_ << " (" << attested.error().message << ")\n";
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
    }
  }

 private:
  static bool Retryable(const Error& error) {
    return error.code == ErrorCode::kNetwork || error.code == ErrorCode::kTimeout;
  }

  template <typename Request, typename Response, typename Start>
  Result<Attested> CallOnce(Start start, const Request& request, Response* response) {
    auto identity = session::SessionIdentity::Generate();
    if (!identity) return Fail(identity.error());
    auto channel = session::CreateSessionChannel(target_, *identity);
    if (!channel) return Fail(channel.error());
    v1::UserAPI::Stub stub(*channel);
    session::ClientSession call([&](grpc::ClientContext* context) { return start(stub, context); });
    auto coordinator = call.AttestPeer(Role::kCoordinator, verifier_, reference_values_, nonces_);
    if (!coordinator) return Fail(coordinator.error().Wrap("attesting the Coordinator"));
    if (auto sent = call.Send(request); !sent) return Fail(sent.error());
    if (auto received = call.Receive(response); !received) return Fail(received.error());
    if (auto finished = call.Finish(); !finished) return Fail(finished.error());
    return Attested{coordinator->platform(), coordinator->insecure(), HexEncode(coordinator->host_data()),
                    HexEncode(coordinator->report().measurement)};
  }

  std::string target_;
  session::AcceptableReferenceValues reference_values_;
  session::EvidenceVerifier verifier_;
  session::NonceTracker nonces_;
  std::chrono::steady_clock::time_point deadline_;
  std::ostream& out_;
};

auto StartSetManifest = [](v1::UserAPI::Stub& stub, grpc::ClientContext* context) { return stub.SetManifest(context); };
auto StartGetManifests = [](v1::UserAPI::Stub& stub, grpc::ClientContext* context) {
  return stub.GetManifests(context);
};

void PrintAttested(std::ostream& out, const std::string& target, const Attested& a) {
  out << "Coordinator at " << target << " attested: platform " << a.platform << ", policy " << a.policy_hash
      << ", measurement " << a.measurement << "\n";
}

int Failed(std::ostream& err, const Error& error) {
  err << "error: " << error.message << "\n";
  return kExitFailed;
}

int Usage(std::ostream& err, const Error& error) {
  err << "error: " << error.message << "\n";
  return kExitUsage;
}

// The policy documents named by the manifest: from Kubernetes resources
// (files and directories whose workloads carry policy annotations, as
// `generate` wrote them) and from plain policy documents. The resources'
// policies must be exactly the manifest's; every difference is listed.
Result<std::vector<Bytes>> LoadPolicies(const std::vector<std::filesystem::path>& paths,
                                        const manifest::Manifest& manifest) {
  std::vector<Bytes> documents;
  std::set<std::string> have;
  std::vector<std::filesystem::path> resources;
  for (const auto& path : paths) {
    if (IsResourcePath(path)) {
      resources.push_back(path);
      continue;
    }
    auto document = ReadFile(path, 16 * 1024 * 1024);
    if (!document) return Fail(document.error());
    have.insert(manifest::PolicyHashOf(*document).Hex());
    documents.push_back(std::move(*document));
  }
  std::string differences;
  if (!resources.empty()) {
    auto attached = FindAttachedPolicies(resources);
    if (!attached) return Fail(attached.error());
    if (attached->empty()) {
      return Fail(ErrorCode::kInvalidArgument,
                  "no workload in the given resources carries a policy annotation (run `contrast generate` on them "
                  "first)");
    }
    for (AttachedPolicy& policy : *attached) {
      if (manifest.FindPolicy(policy.hash) == nullptr) {
        differences += "\n  not in the manifest: " + policy.hash.Hex() + " of " + policy.Describe();
        continue;
      }
      if (have.insert(policy.hash.Hex()).second) {
        documents.emplace_back(policy.hashed_document.begin(), policy.hashed_document.end());
      }
    }
  }
  for (const auto& [hash, entry] : manifest.policies) {
    if (!have.contains(hash.Hex())) {
      differences += "\n  in the manifest but not in the " +
                     std::string(resources.empty() ? "given policy documents" : "resources") + ": " + hash.Hex() +
                     (entry.sans.empty() ? "" : " (" + entry.sans.front() + ")");
    }
  }
  if (!differences.empty()) {
    return Fail(ErrorCode::kInvalidArgument,
                "the policies do not match the manifest (run `contrast generate` again, or pass every resource "
                "file):" +
                    differences);
  }
  return documents;
}

Status WritePem(const std::filesystem::path& path, const std::string& pem) { return WriteFileAtomic(path, pem, 0644); }

}  // namespace

int RunSet(const SetCommand& command, std::ostream& out, std::ostream& err) {
  // Everything local is checked before any network traffic.
  auto local = LoadManifest(command.manifest, err);
  if (!local) return kExitUsage;
  auto policies = LoadPolicies(command.policies, local->parsed);
  if (!policies) return Usage(err, policies.error());
  std::optional<crypto::PrivateKey> owner_key;
  std::filesystem::path owner_key_path = command.workload_owner_key.value_or(command.workspace / "workload-owner.pem");
  if (command.workload_owner_key || std::filesystem::exists(owner_key_path)) {
    auto pem = ReadTextFile(owner_key_path);
    if (!pem) return Usage(err, pem.error());
    auto key = crypto::PrivateKey::FromPkcs8Pem(*pem);
    if (!key) return Usage(err, key.error().Wrap("workload owner key " + owner_key_path.string()));
    owner_key = std::move(*key);
  }
  if (local->parsed.insecure()) PrintInsecureWarning(err);

  CoordinatorClient coordinator(command.coordinator, local->parsed, command.timeout, out);
  v1::SetManifestRequest request;
  request.set_manifest(std::string(AsChars(local->bytes)));
  for (const Bytes& document : *policies) request.add_policies(std::string(AsChars(document)));

  if (owner_key) {
    // An update is signed over the transition it makes: the new manifest on
    // top of the Coordinator's current latest transition.
    v1::GetManifestsResponse current;
    auto attested = coordinator.Call(StartGetManifests, v1::GetManifestsRequest{}, &current);
    history::TransitionHash previous{};
    if (attested) {
      if (current.latest_transition_hash().size() != previous.size()) {
        return Failed(err, Error{ErrorCode::kParse, "the Coordinator sent a malformed latest transition hash"});
      }
      std::copy(current.latest_transition_hash().begin(), current.latest_transition_hash().end(), previous.begin());
    } else if (attested.error().code != ErrorCode::kNotFound) {
      return Failed(err, attested.error());
    }
    const auto transition = history::ComputeTransitionHash(manifest::ManifestHash(local->bytes), previous);
    auto signature = history::SignTransition(*owner_key, transition);
    if (!signature) return Failed(err, signature.error());
    auto spki = owner_key->PublicKeyDer();
    if (!spki) return Failed(err, spki.error());
    request.set_previous_transition_hash(std::string(AsChars(previous)));
    request.set_owner_public_key(std::string(AsChars(*spki)));
    request.set_owner_signature(std::string(AsChars(*signature)));
  }

  v1::SetManifestResponse response;
  auto attested = coordinator.Call(StartSetManifest, request, &response);
  if (!attested) return Failed(err, attested.error());
  PrintAttested(out, command.coordinator, *attested);
  if (auto s = WritePem(command.workspace / "coordinator-root-ca.pem", response.root_ca()); !s) {
    return Failed(err, s.error());
  }
  if (auto s = WritePem(command.workspace / "mesh-ca.pem", response.mesh_ca()); !s) return Failed(err, s.error());
  out << "Manifest set (transition " << HexEncode(AsBytes(response.transition_hash())) << ").\n"
      << "Wrote " << (command.workspace / "coordinator-root-ca.pem").string() << " and "
      << (command.workspace / "mesh-ca.pem").string() << "\n";
  return kExitOk;
}

namespace {

// Writes verify/ next to it first, then swaps it into place, so a reader
// never sees a mix of two runs.
Status WriteVerifyDirectory(const std::filesystem::path& dir, const v1::GetManifestsResponse& response) {
  const std::filesystem::path staging = dir.string() + ".tmp-" + std::to_string(::getpid());
  std::error_code ec;
  std::filesystem::remove_all(staging, ec);
  std::filesystem::create_directories(staging / "policies", ec);
  if (ec) return Fail(ErrorCode::kIo, "cannot create " + staging.string() + ": " + ec.message());
  auto write = [&](const std::filesystem::path& name, std::string_view content) {
    return WriteFileAtomic(staging / name, content, 0644);
  };
  Status status;
  status = status.and_then([&] { return write("coordinator-root-ca.pem", response.root_ca()); });
  status = status.and_then([&] { return write("mesh-root.pem", response.root_ca()); });
  status = status.and_then([&] { return write("mesh-ca.pem", response.mesh_ca()); });
  for (int i = 0; i < response.manifests_size() && status; ++i) {
    status = write("manifest." + std::to_string(i) + ".json", response.manifests(i));
  }
  for (const std::string& policy : response.policies()) {
    if (!status) break;
    status = write(std::filesystem::path("policies") / manifest::PolicyHashOf(AsBytes(policy)).Hex(), policy);
  }
  if (!status) {
    std::filesystem::remove_all(staging, ec);
    return status;
  }
  const std::filesystem::path old = dir.string() + ".old-" + std::to_string(::getpid());
  if (std::filesystem::exists(dir)) std::filesystem::rename(dir, old, ec);
  std::filesystem::rename(staging, dir, ec);
  if (ec) return Fail(ErrorCode::kIo, "cannot move " + staging.string() + " to " + dir.string() + ": " + ec.message());
  std::filesystem::remove_all(old, ec);
  return {};
}

}  // namespace

int RunVerify(const VerifyCommand& command, std::ostream& out, std::ostream& err) {
  auto local = LoadManifest(command.manifest, err);
  if (!local) return kExitUsage;
  if (local->parsed.insecure()) PrintInsecureWarning(err);
  CoordinatorClient coordinator(command.coordinator, local->parsed, command.timeout, out);
  v1::GetManifestsResponse response;
  auto attested = coordinator.Call(StartGetManifests, v1::GetManifestsRequest{}, &response);
  if (!attested) return Failed(err, attested.error());
  PrintAttested(out, command.coordinator, *attested);
  const std::filesystem::path dir = command.workspace / "verify";
  if (auto written = WriteVerifyDirectory(dir, response); !written) return Failed(err, written.error());
  out << "Wrote " << dir.string() << "/: coordinator-root-ca.pem, mesh-root.pem, mesh-ca.pem, "
      << response.manifests_size() << " manifest(s) oldest first, " << response.policies_size()
      << " policy document(s)\n";
  if (response.manifests_size() == 0 || AsBytes(response.manifests(response.manifests_size() - 1)).size() == 0) {
    return Failed(err, Error{ErrorCode::kValidationFailed, "the Coordinator has no manifest"});
  }
  const std::string& active = response.manifests(response.manifests_size() - 1);
  if (active != AsChars(local->bytes)) {
    return Failed(
        err, Error{ErrorCode::kValidationFailed,
                   "the Coordinator's active manifest differs from " + command.manifest.string() + " (see " +
                       (dir / ("manifest." + std::to_string(response.manifests_size() - 1) + ".json")).string() + ")"});
  }
  out << "The active manifest equals " << command.manifest.string() << ": the deployment runs what it names.\n";
  return kExitOk;
}

void AddCoordinatorCommands(CLI::App& app, std::function<int()>& run, std::ostream& out, std::ostream& err) {
  auto set = std::make_shared<SetCommand>();
  CLI::App* set_cmd = app.add_subcommand("set", "Attest the Coordinator against the manifest, then set the manifest");
  set_cmd->footer(
      "Nothing is sent before the Coordinator's evidence matches the manifest (its Role \"coordinator\" policy "
      "and the reference values). The first manifest needs no signature; updates are signed with a workload owner "
      "key listed in the current manifest. Writes coordinator-root-ca.pem and mesh-ca.pem.");
  set_cmd->add_option("-c,--coordinator", set->coordinator, "Coordinator user API, HOST:PORT (port 1313)")->required();
  set_cmd->add_option("-m,--manifest", set->manifest, "Manifest file")->capture_default_str();
  set_cmd->add_option("PATHS", set->policies,
                      "Kubernetes resources annotated by `contrast generate` (files or directories; their policies "
                      "must be exactly the manifest's), or policy documents (SHA-256 = policy hash)");
  set_cmd->add_option("--workload-owner-key", set->workload_owner_key,
                      "PKCS#8 PEM EC P-384 key listed in the manifest's WorkloadOwnerKeyDigests (default: "
                      "workload-owner.pem in the workspace, if present)");
  set_cmd->add_option("--workspace-dir", set->workspace, "Where coordinator-root-ca.pem and mesh-ca.pem go")
      ->capture_default_str();
  set_cmd->add_option_function<int>(
      "--timeout", [set](int seconds) { set->timeout = std::chrono::seconds(seconds); },
      "Seconds to keep retrying while the Coordinator is unavailable (default 120)");
  set_cmd->callback([&run, set, &out, &err] { run = [set, &out, &err] { return RunSet(*set, out, err); }; });

  auto verify = std::make_shared<VerifyCommand>();
  CLI::App* verify_cmd =
      app.add_subcommand("verify", "Attest the Coordinator and write its manifest history into verify/");
  verify_cmd->footer(
      "verify/ holds coordinator-root-ca.pem (also as mesh-root.pem), mesh-ca.pem, manifest.<i>.json oldest "
      "first, and the policy documents by hash. Fails if the active manifest differs from the local one.");
  verify_cmd->add_option("-c,--coordinator", verify->coordinator, "Coordinator user API, HOST:PORT (port 1313)")
      ->required();
  verify_cmd->add_option("-m,--manifest", verify->manifest, "Manifest file")->capture_default_str();
  verify_cmd->add_option("--workspace-dir", verify->workspace, "Where verify/ goes")->capture_default_str();
  verify_cmd->add_option_function<int>(
      "--timeout", [verify](int seconds) { verify->timeout = std::chrono::seconds(seconds); },
      "Seconds to keep retrying while the Coordinator is unavailable (default 120)");
  verify_cmd->callback(
      [&run, verify, &out, &err] { run = [verify, &out, &err] { return RunVerify(*verify, out, err); }; });
}

}  // namespace contrast::cli
