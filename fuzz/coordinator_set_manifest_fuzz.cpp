// Fuzz target: the Coordinator's SetManifest path on untrusted bytes (parse,
// policy documents, authorization, history append, GetManifests).
//
// Input: NUL-separated parts; the first is the manifest, the rest are policy
// documents. Each run starts from an empty in-memory history. Invariants
// checked beyond "no crash": an accepted manifest comes back byte for byte
// from GetManifests, and an unsigned second SetManifest is always refused.
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "coordinator/manifest_updater.h"
#include "history/history.h"

namespace {

using contrast::Bytes;
using contrast::ByteView;
using contrast::history::Store;

// Enough of a Store for one run; the fuzzer is single-threaded.
class MemoryStore final : public Store {
 public:
  contrast::Result<std::optional<Bytes>> Get(std::string_view key) override {
    if (auto ok = contrast::history::ValidateStoreKey(key); !ok) return contrast::Fail(ok.error());
    auto it = values_.find(std::string(key));
    if (it == values_.end()) return std::optional<Bytes>();
    return std::optional<Bytes>(it->second);
  }
  contrast::Result<bool> Has(std::string_view key) override {
    if (auto ok = contrast::history::ValidateStoreKey(key); !ok) return contrast::Fail(ok.error());
    return values_.count(std::string(key)) != 0;
  }
  contrast::Status Set(std::string_view key, ByteView value) override {
    if (auto ok = contrast::history::ValidateStoreKey(key); !ok) return contrast::Fail(ok.error());
    values_[std::string(key)] = Bytes(value.begin(), value.end());
    return {};
  }
  contrast::Result<bool> CompareAndSwap(std::string_view key, std::optional<ByteView> expected,
                                        ByteView value) override {
    if (auto ok = contrast::history::ValidateStoreKey(key); !ok) return contrast::Fail(ok.error());
    auto it = values_.find(std::string(key));
    const bool matches = expected ? it != values_.end() && std::equal(it->second.begin(), it->second.end(),
                                                                      expected->begin(), expected->end())
                                  : it == values_.end();
    if (matches) values_[std::string(key)] = Bytes(value.begin(), value.end());
    return matches;
  }

 private:
  std::map<std::string, Bytes> values_;
};

const std::shared_ptr<spdlog::logger>& NullLogger() {
  static const auto logger = std::make_shared<spdlog::logger>("fuzz", std::make_shared<spdlog::sinks::null_sink_st>());
  return logger;
}

// The history key, generated once (a fresh key per run costs more than the
// rest of a rejected run).
contrast::crypto::PrivateKey HistoryKey() {
  static const std::string pem = [] {
    auto key = contrast::crypto::PrivateKey::Generate(contrast::crypto::KeyType::kEcP384);
    if (!key) std::abort();
    auto text = key->ToPkcs8Pem();
    if (!text) std::abort();
    return *text;
  }();
  auto key = contrast::crypto::PrivateKey::FromPkcs8Pem(pem);
  if (!key) std::abort();
  return std::move(*key);
}

contrast::coordinator::SetManifestInput Split(ByteView input) {
  contrast::coordinator::SetManifestInput out;
  std::vector<Bytes> parts(1);
  for (uint8_t byte : input) {
    if (byte == 0) {
      parts.emplace_back();
    } else {
      parts.back().push_back(byte);
    }
  }
  out.manifest = std::move(parts.front());
  out.policies.assign(std::make_move_iterator(parts.begin() + 1), std::make_move_iterator(parts.end()));
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace contrast::coordinator;
  auto history = contrast::history::History::Create(std::make_shared<MemoryStore>(), HistoryKey());
  if (!history) std::abort();
  StateGuard guard;
  contrast::observability::Registry registry;
  CoordinatorMetrics metrics(registry);
  ManifestUpdater updater(*history, guard, metrics, NullLogger());

  const SetManifestInput input = Split(ByteView(data, size));
  if (!updater.SetManifest(input)) return 0;
  auto listed = updater.GetManifests();
  if (!listed || listed->manifests.size() != 1 || listed->manifests[0] != input.manifest) std::abort();
  auto again = updater.SetManifest(input);
  if (again || again.error().status_code != grpc::StatusCode::PERMISSION_DENIED) std::abort();
  return 0;
}
