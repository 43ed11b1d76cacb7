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

#include "../tests/support/memory_store.h"
#include "coordinator/manifest_updater.h"
#include "history/history.h"

namespace {

using contrast::Bytes;
using contrast::ByteView;
using contrast::testing::MemoryStore;

const std::shared_ptr<spdlog::logger>& NullLogger() {
  static const auto logger = std::make_shared<spdlog::logger>("fuzz", std::make_shared<spdlog::sinks::null_sink_st>());
  return logger;
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
  StateGuard guard;
  contrast::observability::Registry registry;
  CoordinatorMetrics metrics(registry);
  auto opened = ManifestUpdater::Open(std::make_shared<MemoryStore>(), guard, metrics, NullLogger());
  if (!opened) std::abort();
  ManifestUpdater& updater = **opened;

  const SetManifestInput input = Split(ByteView(data, size));
  if (!updater.SetManifest(input)) return 0;
  auto listed = updater.GetManifests();
  if (!listed || listed->entries.size() != 1 || listed->more || listed->entries[0].manifest != input.manifest) {
    std::abort();
  }
  auto again = updater.SetManifest(input);
  if (again || again.error().code != contrast::ErrorCode::kSignatureInvalid) std::abort();
  return 0;
}
