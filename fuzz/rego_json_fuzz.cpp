// Fuzz target: JSON text into Rego values (agent requests, policy data and
// CLI inputs come in this way). Whatever parses must serialise and parse back
// to an equal value.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "policy/rego/value.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using contrast::policy::rego::Value;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto value = Value::FromJson(text, /*max_depth=*/64);
  if (!value) return 0;
  auto again = Value::FromJson(value->ToJson(), 64);
  if (!again || *again != *value) std::abort();
  (void)value->ToRegoString();
  (void)value->ToPrettyJson();
  return 0;
}
