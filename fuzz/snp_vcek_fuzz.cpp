// Fuzz target: VCEK/VLEK certificate parsing and their AMD extensions.
#include <cstdint>

#include "attest/snp/vcek.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto info = contrast::attest::snp::ParseEndorsementKey(contrast::ByteView(data, size));
  if (info) (void)contrast::attest::snp::ParseProduct(info->product_name);
  return 0;
}
