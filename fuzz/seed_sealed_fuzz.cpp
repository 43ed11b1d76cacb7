// Fuzz target: sealed records from the untrusted history store (opening under
// a fixed key and transition) and the sealed CA state encoding.
#include <cstdint>
#include <cstdlib>

#include "seed/sealed.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace contrast::seed;
  static const contrast::Bytes kKey(32, 0x42);
  static const SealBinding kTransition{};
  const contrast::ByteView input(data, size);
  // The corpus records are sealed under this key and transition, so mutations
  // of them reach the authentication check and the decoder behind it.
  auto opened = Open(kKey, kSealedCaPurpose, kTransition, input);
  if (opened) {
    auto state = DecodeSealedCaState(*opened);
    if (state && EncodeSealedCaState(*state) != *opened) std::abort();
  }
  auto state = DecodeSealedCaState(input);
  if (state && EncodeSealedCaState(*state) != std::vector<uint8_t>(input.begin(), input.end())) std::abort();
  return 0;
}
