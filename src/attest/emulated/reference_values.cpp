#include "attest/emulated/reference_values.h"

#include <nlohmann/json.hpp>

namespace contrast::attest::emulated {

bool operator==(const InsecureEmulatedReferenceValues& a, const InsecureEmulatedReferenceValues& b) {
  // The JSON form of an SNP entry is lossless and stays complete when fields
  // are added to the struct, so it is the comparison that cannot go stale.
  return a.root_sha256 == b.root_sha256 &&
         attest::snp::SnpReferenceValuesToJson(a.snp) == attest::snp::SnpReferenceValuesToJson(b.snp);
}

}  // namespace contrast::attest::emulated
