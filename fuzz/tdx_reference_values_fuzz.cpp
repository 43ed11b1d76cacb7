// Fuzz target: one TDX reference value entry (the manifest's
// ReferenceValues.tdx[i]) parsed, written back and validated.
#include <cstdint>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "attest/tdx/reference_values.h"
#include "common/bytes.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace contrast::attest::tdx;
  auto parsed = ParseTdxReferenceValues(contrast::AsChars(contrast::ByteView(data, size)));
  if (!parsed) return 0;
  // Whatever parses must be written in a form that parses to the same entry.
  auto again = ParseTdxReferenceValues(TdxReferenceValuesToJson(*parsed).dump());
  if (!again || !(*again == *parsed)) std::abort();
  const PolicyDigest policy{};
  (void)Validate(*parsed, TdMeasurements{}, {&policy, 1}).Message();
  return 0;
}
