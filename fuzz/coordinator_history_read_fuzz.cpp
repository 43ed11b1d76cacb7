// Fuzz target: the Coordinator's paged history reads (UserAPI.GetManifests,
// GetPolicies) and SetManifest's further policy frames, on untrusted request
// bytes.
//
// Set up once: an in-memory history of three manifests made by a
// ManifestUpdater. Input: the first byte picks the message, the rest is its
// serialized form: 0 GetManifestsRequest, 1 GetPoliciesRequest, 2
// SetManifestPolicies (appended to an unsigned update, as the service does).
// Invariants beyond "no crash": a page holds at least one manifest and at
// most history::kMaxPageBytes of them unless it holds just one; documents
// come back for a prefix of the hashes asked for, each with that hash; and
// no request changes the store.
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "../tests/support/memory_store.h"
#include "contrast/userapi.pb.h"
#include "coordinator/manifest_updater.h"
#include "crypto/hash.h"

namespace {

using contrast::Bytes;
using contrast::testing::MemoryStore;
using namespace contrast::coordinator;

constexpr std::string_view kCoordinatorPolicy = "package agent_policy\n# coordinator\n";

std::string ManifestJson(int version) {
  return R"({"Policies": {"7a9dcc4f9779040769e196a609287d84a1afa2db16bee093d2dc9c16984fb019": )"
         R"({"SANs": ["coordinator-v)" +
         std::to_string(version) +
         R"("], "Role": "coordinator"}}, "ReferenceValues": {"emulated": [{"Platform": "Metal-QEMU-SNP", )"
         R"("ProductName": "Milan", "TrustedMeasurement": "7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b5)"
         R"(79ea158d3e1a0dc39b2c60bd95b9c480cd81841f", "MinimumTCB": {"BootloaderVersion": 3, "TEEVersion": 0, )"
         R"("SNPVersion": 8, "MicrocodeVersion": 115}, "GuestPolicy": {"ABIMinor": 0, "ABIMajor": 0, "SMT": true}, )"
         R"("PlatformInfo": {"SMTEnabled": true}, "MinimumMitigationVector": 0, )"
         R"("EmulatedRootSHA256": "004b372cb547494db2f62d4b28602329781f2b358e5dbb14a62ad7e5767b3b4a"}]}})";
}

const std::shared_ptr<spdlog::logger>& NullLogger() {
  static const auto logger = std::make_shared<spdlog::logger>("fuzz", std::make_shared<spdlog::sinks::null_sink_st>());
  return logger;
}

struct Served {
  std::shared_ptr<MemoryStore> store;
  StateGuard guard;
  contrast::observability::Registry registry;
  std::unique_ptr<CoordinatorMetrics> metrics;
  std::unique_ptr<ManifestUpdater> updater;
};

// One manifest with no owner keys: the history cannot grow past it, so the
// store stays as set up whatever the input.
Served& TheCoordinator() {
  static Served* served = [] {
    auto* s = new Served;
    s->store = std::make_shared<MemoryStore>();
    s->metrics = std::make_unique<CoordinatorMetrics>(s->registry);
    auto updater = ManifestUpdater::Open(s->store, s->guard, *s->metrics, NullLogger());
    if (!updater) std::abort();
    s->updater = std::move(*updater);
    SetManifestInput input;
    const std::string manifest = ManifestJson(0);
    input.manifest.assign(manifest.begin(), manifest.end());
    input.policies.emplace_back(kCoordinatorPolicy.begin(), kCoordinatorPolicy.end());
    if (!s->updater->SetManifest(input)) std::abort();
    return s;
  }();
  return *served;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  Served& served = TheCoordinator();
  const auto before = served.store->values();
  const int kind = data[0] % 3;
  const auto* body = reinterpret_cast<const char*>(data + 1);
  const int length = static_cast<int>(size - 1);
  if (kind == 0) {
    contrast::v1::GetManifestsRequest request;
    if (!request.ParseFromArray(body, length)) return 0;
    std::optional<contrast::history::TransitionHash> from;
    if (request.from_transition_hash().size() == 32) {
      from.emplace();
      std::copy(request.from_transition_hash().begin(), request.from_transition_hash().end(), from->begin());
    }
    auto page = served.updater->GetManifests(from);
    if (page) {
      if (page->entries.empty()) std::abort();
      size_t bytes = 0;
      for (const auto& entry : page->entries) bytes += entry.manifest.size();
      if (page->entries.size() > 1 && bytes > contrast::history::kMaxPageBytes) std::abort();
    }
  } else if (kind == 1) {
    contrast::v1::GetPoliciesRequest request;
    if (!request.ParseFromArray(body, length)) return 0;
    std::vector<Bytes> hashes;
    for (const std::string& hash : request.policy_hashes()) hashes.emplace_back(hash.begin(), hash.end());
    auto documents = served.updater->GetPolicies(hashes);
    if (documents) {
      if (documents->size() > hashes.size() || (!hashes.empty() && documents->empty())) std::abort();
      for (size_t i = 0; i < documents->size(); ++i) {
        const auto digest = contrast::crypto::Sha256((*documents)[i]);
        if (!std::equal(digest.begin(), digest.end(), hashes[i].begin(), hashes[i].end())) std::abort();
      }
    }
  } else {
    contrast::v1::SetManifestPolicies frame;
    if (!frame.ParseFromArray(body, length)) return 0;
    SetManifestInput input;
    const std::string manifest = ManifestJson(1);
    input.manifest.assign(manifest.begin(), manifest.end());
    for (const std::string& policy : frame.policies()) input.policies.emplace_back(policy.begin(), policy.end());
    (void)CheckPolicyDocumentBounds(input.policies);
    if (served.updater->CheckBeforePolicies(input)) std::abort();  // unsigned, and updates are disabled
    if (served.updater->SetManifest(input)) std::abort();
  }
  if (served.store->values() != before) std::abort();
  return 0;
}
