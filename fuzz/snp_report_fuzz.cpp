// Fuzz target: SEV-SNP attestation report parsing and rendering.
#include <cstdint>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "attest/snp/abi.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace contrast::attest::snp;
  const contrast::ByteView input(data, size);
  auto report = ParseReport(input);
  if (!report) return 0;
  // Whatever parses must serialise back to the same bytes.
  const contrast::Bytes again = SerializeReport(*report);
  if (again.size() != size || !std::equal(again.begin(), again.end(), data)) std::abort();
  (void)ReportToJson(*report).dump();
  for (Product p : {Product::kMilan, Product::kTurin}) (void)FormatTcb(DecodeTcb(report->reported_tcb, p), p);
  return 0;
}
