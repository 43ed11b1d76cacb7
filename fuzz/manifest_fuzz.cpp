// Fuzz target: manifest JSON (parse, validate, canonical serialisation).
#include <cstdint>
#include <cstdlib>

#include "manifest/manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace contrast::manifest;
  auto parsed = ParseManifest(contrast::AsChars(contrast::ByteView(data, size)));
  if (!parsed) return 0;
  // Whatever parses must survive its canonical form unchanged, and the
  // canonical form must be a fixed point.
  const std::string canonical = SerializeManifest(*parsed);
  auto again = ParseManifest(canonical);
  if (!again || !(*again == *parsed)) std::abort();
  if (SerializeManifest(*again) != canonical) std::abort();
  for (const auto& [hash, entry] : parsed->policies) {
    for (const std::string& san : entry.sans) (void)ClassifySan(san);
  }
  return 0;
}
