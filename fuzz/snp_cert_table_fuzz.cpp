// Fuzz target: the SEV-SNP extended-report certificate table (auxblob /
// SNP_GET_EXT_REPORT certificates), which comes from the host.
#include <cstdint>
#include <cstdlib>

#include "attest/snp/cert_table.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace contrast::attest::snp;
  auto table = ParseCertTable(contrast::ByteView(data, size));
  if (!table) return 0;
  if (table->entries.size() > kMaxCertTableEntries) std::abort();
  size_t payload = 0;
  for (const auto& entry : table->entries) payload += entry.data.size();
  // Payloads are disjoint slices of the input behind the entries.
  if (payload > size) std::abort();
  // Whatever parses must rebuild into a table that parses to the same entries.
  const contrast::Bytes rebuilt = BuildCertTable(*table);
  auto again = ParseCertTable(rebuilt);
  if (!again || again->entries.size() != table->entries.size()) std::abort();
  for (size_t i = 0; i < table->entries.size(); ++i) {
    if (again->entries[i].guid != table->entries[i].guid || again->entries[i].data != table->entries[i].data) {
      std::abort();
    }
  }
  for (const auto& guid : {kGuidVcek, kGuidVlek, kGuidAsk, kGuidArk}) (void)table->Find(guid);
  return 0;
}
