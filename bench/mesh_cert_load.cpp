// Load generator: completed mesh-certificate sessions per second and their
// latency (p50, p99) with 1, 8 and 64 concurrent clients against an
// in-process Coordinator on loopback, emulated platform. Printed beside the
// raw ECDSA P-384 sign and verify rates of the same OpenSSL, measured in the
// same run on one thread.
//
// One session = a fresh TLS connection and client identity, NewMeshCert
// request, challenge, emulated evidence (one ECDSA P-384 signature by the
// emulated secure processor), the Coordinator's verification (ECDSA verify of
// the report; chain checks cached), then the same in the other direction
// (the Coordinator's evidence, verified by the client as the Initializer
// does), leaf issuance (ECDSA sign), response.
//
// Usage: mesh_cert_load [--seconds N] (per concurrency level, default 5)
#include <openssl/evp.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "attest/emulated/issuer.h"
#include "attest/emulated/secure_processor.h"
#include "attest/evidence_verifier.h"
#include "attestation_policy/reference_values.h"
#include "contrast/meshapi.grpc.pb.h"
#include "contrast/userapi.grpc.pb.h"
#include "coordinator/coordinator.h"
#include "crypto/hash.h"
#include "crypto/keys.h"
#include "crypto/openssl.h"
#include "manifest/manifest.h"
#include "session/credentials.h"
#include "session/nonce.h"
#include "session/protocol.h"

namespace {

using namespace contrast;
using Clock = std::chrono::steady_clock;

template <typename T>
T Must(Result<T> r, const char* what) {
  if (!r) {
    std::fprintf(stderr, "%s: %s\n", what, r.error().message.c_str());
    std::exit(1);
  }
  return std::move(*r);
}

// Raw rate of one OpenSSL operation on this thread for ~1 s.
template <typename Op>
double RatePerSecond(Op op) {
  const auto start = Clock::now();
  size_t n = 0;
  while (Clock::now() - start < std::chrono::seconds(1)) {
    for (int i = 0; i < 20; ++i) op();
    n += 20;
  }
  return static_cast<double>(n) / std::chrono::duration<double>(Clock::now() - start).count();
}

struct RawRates {
  double sign = 0;
  double verify = 0;
};

RawRates MeasureRawP384() {
  auto key = Must(crypto::PrivateKey::Generate(crypto::KeyType::kEcP384), "key");
  const crypto::Sha384Digest digest = crypto::Sha384(AsBytes("contrast mesh load"));
  crypto::EvpPkeyCtxPtr sign_ctx(EVP_PKEY_CTX_new(key.get(), nullptr));
  EVP_PKEY_sign_init(sign_ctx.get());
  unsigned char sig[128];
  size_t sig_len = sizeof sig;
  EVP_PKEY_sign(sign_ctx.get(), sig, &sig_len, digest.data(), digest.size());
  crypto::EvpPkeyCtxPtr verify_ctx(EVP_PKEY_CTX_new(key.get(), nullptr));
  EVP_PKEY_verify_init(verify_ctx.get());
  if (EVP_PKEY_verify(verify_ctx.get(), sig, sig_len, digest.data(), digest.size()) != 1) {
    std::fprintf(stderr, "raw P-384 verify failed\n");
    std::exit(1);
  }
  RawRates rates;
  rates.verify = RatePerSecond([&] { EVP_PKEY_verify(verify_ctx.get(), sig, sig_len, digest.data(), digest.size()); });
  unsigned char scratch[128];
  rates.sign = RatePerSecond([&] {
    size_t len = sizeof scratch;
    EVP_PKEY_sign(sign_ctx.get(), scratch, &len, digest.data(), digest.size());
  });
  return rates;
}

struct Setup {
  std::optional<attest::emulated::SecureProcessor> sp;
  std::unique_ptr<coordinator::Coordinator> coordinator;
  std::shared_ptr<attest::Issuer> workload_issuer;
  std::string mesh_target;
  // What the workload checks the Coordinator against, as the Initializer does.
  attest::AcceptableReferenceValues coordinator_values;
  std::unique_ptr<attest::EvidenceVerifier> verifier = std::make_unique<attest::EvidenceVerifier>();
  std::unique_ptr<session::NonceTracker> nonces = std::make_unique<session::NonceTracker>();
};

Setup StartCoordinator(const std::filesystem::path& state_dir) {
  Setup s;
  s.sp.emplace(Must(attest::emulated::SecureProcessor::CreateInMemory(), "emulator"));
  attest::emulated::Measurement measurement{};
  measurement.fill(0x42);
  const std::string coordinator_policy = "package agent_policy\n# coordinator\n";
  const std::string web_policy = "package agent_policy\n# web\n";
  auto vm = [&](const std::string& policy) {
    return std::make_shared<attest::emulated::InsecureEmulatedIssuer>(attest::emulated::InsecureEmulatedIssuer::ForVm(
        *s.sp, Must(s.sp->RegisterVm(measurement, manifest::PolicyHashOf(AsBytes(policy)).bytes), "vm")));
  };
  coordinator::CoordinatorOptions options;
  options.user_api_address = "127.0.0.1:0";
  options.mesh_api_address = "127.0.0.1:0";
  options.probe_address = "127.0.0.1:0";
  options.state_dir = state_dir;
  options.logger = std::make_shared<spdlog::logger>("bench", std::make_shared<spdlog::sinks::null_sink_mt>());
  s.coordinator = Must(coordinator::Coordinator::Start(options, vm(coordinator_policy)), "coordinator");
  s.workload_issuer = vm(web_policy);

  manifest::Manifest m;
  m.policies[manifest::PolicyHashOf(AsBytes(coordinator_policy))] = {{"coordinator"}, "", manifest::Role::kCoordinator};
  m.policies[manifest::PolicyHashOf(AsBytes(web_policy))] = {{"web", "*"}, "", manifest::Role::kNone};
  attest::emulated::InsecureEmulatedReferenceValues entry;
  entry.snp.product = s.sp->product();
  entry.snp.trusted_measurement = measurement;
  entry.snp.minimum_tcb = s.sp->tcb();
  entry.snp.guest_policy.smt = true;
  entry.snp.platform_info.smt_enabled = true;
  entry.root_sha256 = crypto::Sha256(s.sp->ark_der());
  // The emulated platform has no CRL to check revocation against.
  entry.snp.allow_missing_revocation_check = true;
  m.reference_values.emulated.push_back(entry);
  const std::string text = manifest::SerializeManifest(m);

  // Set the manifest the way `contrast set` does: attest, then send.
  auto identity = Must(session::SessionIdentity::Generate(), "identity");
  auto channel =
      Must(session::CreateSessionChannel("127.0.0.1:" + std::to_string(s.coordinator->user_api_port()), identity),
           "channel");
  v1::UserAPI::Stub stub(channel);
  attest::EvidenceVerifier verifier;
  session::NonceTracker nonces;
  session::ClientSession call([&](grpc::ClientContext* c) { return stub.SetManifest(c); });
  Must(
      call.AttestPeer(session::Role::kCoordinator, verifier, attestation_policy::CoordinatorReferenceValues(m), nonces),
      "attesting the coordinator");
  v1::SetManifestRequest request;
  request.set_manifest(text);
  request.add_policies(coordinator_policy);
  request.add_policies(web_policy);
  v1::SetManifestResponse response;
  if (!call.Send(request) || !call.Receive(&response) || !call.Finish()) {
    std::fprintf(stderr, "setting the manifest failed\n");
    std::exit(1);
  }
  s.mesh_target = "127.0.0.1:" + std::to_string(s.coordinator->mesh_api_port());
  s.coordinator_values = attestation_policy::CoordinatorReferenceValues(m);
  return s;
}

// One complete mesh-certificate session, as an Initializer runs it (both
// ends attest).
bool OneSession(const Setup& s) {
  auto identity = session::SessionIdentity::Generate();
  if (!identity) return false;
  auto channel = session::CreateSessionChannel(s.mesh_target, *identity);
  if (!channel) return false;
  v1::MeshAPI::Stub stub(*channel);
  session::ClientSession call([&](grpc::ClientContext* c) { return stub.NewMeshCert(c); });
  v1::NewMeshCertResponse response;
  return call.Send(v1::NewMeshCertRequest{}) &&
         call.AttestSelf(session::Role::kWorkload, *s.workload_issuer, identity->spki_der()) &&
         call.AttestPeer(session::Role::kCoordinator, *s.verifier, s.coordinator_values, *s.nonces) &&
         call.Receive(&response) && call.Finish() && !response.cert_chain().empty();
}

struct LevelResult {
  int clients;
  size_t sessions;
  size_t errors;
  double per_second;
  double p50_ms;
  double p99_ms;
};

LevelResult RunLevel(const Setup& s, int clients, std::chrono::seconds duration) {
  std::mutex mutex;
  std::vector<double> latencies;
  std::atomic<size_t> errors{0};
  const auto deadline = Clock::now() + duration;
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      std::vector<double> mine;
      while (Clock::now() < deadline) {
        const auto t0 = Clock::now();
        if (!OneSession(s)) {
          ++errors;
          continue;
        }
        mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      }
      std::lock_guard lock(mutex);
      latencies.insert(latencies.end(), mine.begin(), mine.end());
    });
  }
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::sort(latencies.begin(), latencies.end());
  auto percentile = [&](double p) {
    if (latencies.empty()) return 0.0;
    return latencies[std::min(latencies.size() - 1, static_cast<size_t>(p * static_cast<double>(latencies.size())))];
  };
  return {clients,          latencies.size(), errors.load(), static_cast<double>(latencies.size()) / elapsed,
          percentile(0.50), percentile(0.99)};
}

}  // namespace

int main(int argc, char** argv) {
  int seconds = 5;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--seconds") == 0) seconds = std::max(1, std::atoi(argv[i + 1]));
  }
  const RawRates raw = MeasureRawP384();
  std::printf("raw ECDSA P-384 (OpenSSL %s, one thread): sign %.0f/s, verify %.0f/s\n", OPENSSL_VERSION_STR, raw.sign,
              raw.verify);
  const std::filesystem::path state =
      std::filesystem::temp_directory_path() / ("contrast-mesh-load-" + std::to_string(::getpid()));
  std::filesystem::create_directories(state);
  {
    const Setup s = StartCoordinator(state);
    OneSession(s);  // warm-up: caches the emulated chain
    std::printf("\n%8s %10s %8s %12s %10s %10s %22s\n", "clients", "sessions", "errors", "sessions/s", "p50 ms",
                "p99 ms", "sessions/s per verify/s");
    for (int clients : {1, 8, 64}) {
      const LevelResult r = RunLevel(s, clients, std::chrono::seconds(seconds));
      std::printf("%8d %10zu %8zu %12.1f %10.2f %10.2f %21.3f\n", r.clients, r.sessions, r.errors, r.per_second,
                  r.p50_ms, r.p99_ms, r.per_second / raw.verify);
    }
    s.coordinator->Stop();
  }
  std::filesystem::remove_all(state);
  return 0;
}
