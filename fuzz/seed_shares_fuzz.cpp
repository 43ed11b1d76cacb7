// Fuzz target: seed-shares.json (what `contrast recover` reads from disk).
#include <cstdint>
#include <cstdlib>

#include "seed/shares.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace contrast::seed;
  auto parsed = ParseSeedShareDocument(contrast::AsChars(contrast::ByteView(data, size)));
  if (!parsed) return 0;
  // Whatever parses must come back unchanged from its serialisation, and the
  // serialisation must be a fixed point.
  const std::string serialized = SerializeSeedShareDocument(*parsed);
  auto again = ParseSeedShareDocument(serialized);
  if (!again || !(*again == *parsed)) std::abort();
  if (SerializeSeedShareDocument(*again) != serialized) std::abort();
  return 0;
}
