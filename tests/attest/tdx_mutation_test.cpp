// Held-out style mutations: single-byte changes spread over every real quote
// (a deterministic sample, not the negative files). Each mutated quote must
// either be refused cleanly (no crash, an error code and message) or, only
// where the byte is outside everything signed or certified (bytes after the
// quote, PEM text around the certificates that leaves their DER unchanged),
// still verify.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "attest/tdx/verify.h"
#include "support/testdata.h"

namespace contrast::attest::tdx {
namespace {

using contrast::testing::ReadTestdata;

TimePoint At(std::string_view rfc3339) { return *ParseRfc3339(rfc3339); }

struct Vector {
  const char* file;
  const char* at;  // inside the PCK chain's validity
};

const Vector kQuotes[] = {
    {"tdx/gotdxguest_tdx_prod_quote_SPR_E4.dat", "2023-07-01T00:00:00Z"},
    {"tdx/gotdxguest_quote_v5_sample.dat", "2026-02-03T00:00:00Z"},
    {"tdx/trustee_tdx_quote_4.dat", "2025-11-01T00:00:00Z"},
    {"tdx/trustee_tdx_quote_5.dat", "2025-11-01T00:00:00Z"},
    {"tdx/trustee_tdx_quote_6.dat", "2025-11-01T00:00:00Z"},
};

std::vector<Bytes> ChainDer(const Quote& quote) {
  std::vector<Bytes> out;
  std::string_view pem = quote.pck_chain_pem;
  while (!pem.empty() && pem.back() == '\0') pem.remove_suffix(1);
  auto chain = crypto::Certificate::ParsePemChain(pem);
  if (chain) {
    for (const auto& cert : *chain) out.push_back(cert.Der());
  }
  return out;
}

// Positions to mutate: an even spread over the whole file plus every byte of
// the header, the size fields and the start of each variable part.
std::vector<size_t> Positions(const Bytes& bytes, const Quote& quote) {
  std::vector<size_t> positions;
  const size_t stride = std::max<size_t>(1, bytes.size() / 100);
  for (size_t i = 0; i < bytes.size(); i += stride) positions.push_back(i);
  for (size_t i = 0; i < 0x30; ++i) positions.push_back(i);
  const size_t auth = quote.signed_region.size();
  for (size_t i = auth; i < auth + 4; ++i) positions.push_back(i);                      // signed-data size
  for (size_t i = auth + 4 + 128; i < auth + 4 + 128 + 6; ++i) positions.push_back(i);  // cert type + size
  const size_t qe_auth = auth + 4 + 128 + 6 + kEnclaveReportSize + 64;
  for (size_t i = qe_auth; i < qe_auth + 2; ++i) positions.push_back(i);  // QE auth size
  const size_t inner = qe_auth + 2 + quote.qe_auth_data.size();
  for (size_t i = inner; i < inner + 6 && i < bytes.size(); ++i) positions.push_back(i);  // inner type + size
  return positions;
}

TEST(TdxMutation, SingleByteMutationsAreRefusedUnlessOutsideTheSignedData) {
  CONTRAST_REQUIRE_TESTDATA();
  size_t refused = 0, accepted_outside = 0;
  for (const Vector& v : kQuotes) {
    const Bytes original = ReadTestdata(v.file);
    auto quote = ParseQuote(original);
    ASSERT_TRUE(quote) << v.file;
    const TimePoint at = At(v.at);
    ASSERT_TRUE(VerifyQuoteSignatures(*quote, IntelSgxRootCa(), at, std::nullopt, std::nullopt)) << v.file;
    const std::vector<Bytes> original_chain = ChainDer(*quote);
    const size_t pem_begin = quote->size - quote->pck_chain_pem.size();
    for (size_t pos : Positions(original, *quote)) {
      for (uint8_t flip : {uint8_t{0x01}, uint8_t{0x80}}) {
        Bytes mutated = original;
        mutated[pos] ^= flip;
        auto parsed = ParseQuote(mutated);
        if (!parsed) {
          EXPECT_FALSE(parsed.error().message.empty());
          ++refused;
          continue;
        }
        auto verified = VerifyQuoteSignatures(*parsed, IntelSgxRootCa(), at, std::nullopt, std::nullopt);
        if (!verified) {
          EXPECT_FALSE(verified.error().message.empty());
          ++refused;
          continue;
        }
        // Accepted: only bytes after the quote, or PEM text whose
        // certificates decode to the same DER.
        const bool after_quote = pos >= quote->size;
        const bool same_certificates = pos >= pem_begin && pos < quote->size && ChainDer(*parsed) == original_chain;
        EXPECT_TRUE(after_quote || same_certificates)
            << v.file << ": byte " << pos << " ^ " << int{flip} << " still verifies";
        ++accepted_outside;
      }
    }
  }
  EXPECT_GT(refused, 1000u);
  std::printf("mutations refused: %zu, accepted outside the signed data: %zu\n", refused, accepted_outside);
}

// The full path (with collateral) on D1: every mutation ends in an error;
// nothing crashes, and no mutation reaches acceptance.
TEST(TdxMutation, FullVerificationOfD1NeverAcceptsAMutation) {
  CONTRAST_REQUIRE_TESTDATA();
  Collateral collateral;
  collateral.tcb_info = std::string(AsChars(ReadTestdata("tdx/gotdxguest_sample_tcbInfo_response")));
  collateral.qe_identity = std::string(AsChars(ReadTestdata("tdx/gotdxguest_sample_qeIdentity_response")));
  collateral.issuer_chain = std::string(AsChars(ReadTestdata("tdx/gotdxguest_tcbinfo_issuer_chain.pem")));
  collateral.pck_crl = ReadTestdata("tdx/gotdxguest_pckcrl");
  collateral.root_crl = ReadTestdata("tdx/gotdxguest_rootcrl.der");
  auto verified_collateral = VerifyCollateral(collateral, IntelSgxRootCa());
  ASSERT_TRUE(verified_collateral) << verified_collateral.error().message;
  VerifyOptions options;
  options.at = At("2023-07-01T00:00:00Z");
  // Accept every status so that only authenticity and matching can refuse.
  options.accepted_tcb_statuses = {TcbStatus::kUpToDate,
                                   TcbStatus::kSwHardeningNeeded,
                                   TcbStatus::kConfigurationNeeded,
                                   TcbStatus::kConfigurationAndSwHardeningNeeded,
                                   TcbStatus::kOutOfDate,
                                   TcbStatus::kOutOfDateConfigurationNeeded,
                                   TcbStatus::kRevoked};
  const Bytes original = ReadTestdata("tdx/gotdxguest_tdx_prod_quote_SPR_E4.dat");
  for (size_t pos = 0; pos < original.size(); pos += 13) {
    Bytes mutated = original;
    mutated[pos] ^= 0x20;
    auto verified = Verify(mutated, *verified_collateral, options);
    ASSERT_FALSE(verified) << "byte " << pos;
    EXPECT_FALSE(verified.error().message.empty());
  }
}

}  // namespace
}  // namespace contrast::attest::tdx
