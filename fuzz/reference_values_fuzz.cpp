// Fuzz target: reference values JSON (the manifest's ReferenceValues).
#include <cstdint>

#include <nlohmann/json.hpp>

#include "attest/snp/reference_values.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace contrast::attest::snp;
  auto parsed = ParseReferenceValues(contrast::AsChars(contrast::ByteView(data, size)));
  if (!parsed) return 0;
  for (const SnpReferenceValues& entry : parsed->snp) (void)SnpReferenceValuesToJson(entry).dump();
  return 0;
}
