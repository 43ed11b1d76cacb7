// Fuzz target: Intel PCS collateral bodies (TDX tcbInfo and QE identity) and
// the cutting of their signed JSON value.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "attest/tdx/collateral.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace contrast::attest::tdx;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  // The signed value is always a piece of the body itself.
  if (auto tcb_info = ParseTcbInfoResponse(body); tcb_info && body.find(tcb_info->signed_json) == body.npos) {
    std::abort();
  }
  if (auto qe = ParseQeIdentityResponse(body); qe && body.find(qe->signed_json) == body.npos) std::abort();
  return 0;
}
