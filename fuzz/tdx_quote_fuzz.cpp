// Fuzz target: TDX quote parsing and full DCAP verification.
//
// Every input goes through ParseQuote; whatever parses is verified with fixed
// collateral (the go-tdx-guest sample tcbInfo, QE identity, issuer chain and
// CRLs from $CONTRAST_TESTDATA_DIR/tdx, verified once) at 2023-07-01, with
// every TCB status accepted so that the fuzzer can reach the TCB evaluation.
// Without the test data only the parser and the quote's own signature and
// chain checks run.
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

#include "attest/tdx/verify.h"
#include "common/files.h"

namespace {

using namespace contrast;
using namespace contrast::attest::tdx;

const std::optional<VerifiedCollateral>& FixedCollateral() {
  static const std::optional<VerifiedCollateral> collateral = []() -> std::optional<VerifiedCollateral> {
    const char* dir = std::getenv("CONTRAST_TESTDATA_DIR");
    if (dir == nullptr) return std::nullopt;
    const std::string tdx = std::string(dir) + "/tdx/";
    auto read = [&](const char* name) { return ReadFile(tdx + name); };
    auto tcb_info = read("gotdxguest_sample_tcbInfo_response");
    auto qe_identity = read("gotdxguest_sample_qeIdentity_response");
    auto chain = read("gotdxguest_tcbinfo_issuer_chain.pem");
    auto pck_crl = read("gotdxguest_pckcrl");
    auto root_crl = read("gotdxguest_rootcrl.der");
    if (!tcb_info || !qe_identity || !chain || !pck_crl || !root_crl) return std::nullopt;
    Collateral c;
    c.tcb_info.assign(AsChars(*tcb_info));
    c.qe_identity.assign(AsChars(*qe_identity));
    c.issuer_chain.assign(AsChars(*chain));
    c.pck_crl = *pck_crl;
    c.root_crl = *root_crl;
    auto verified = VerifyCollateral(c, IntelSgxRootCa());
    if (!verified) return std::nullopt;
    return *verified;
  }();
  return collateral;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ByteView input(data, size);
  auto quote = ParseQuote(input);
  if (!quote) return 0;
  // A parsed quote is internally consistent.
  if (quote->size > size || quote->qe_auth_data.size() > size || quote->pck_chain_pem.size() > size) std::abort();
  static const TimePoint at = *ParseRfc3339("2023-07-01T00:00:00Z");
  const auto& collateral = FixedCollateral();
  if (!collateral) {
    (void)VerifyQuoteSignatures(*quote, IntelSgxRootCa(), at, std::nullopt, std::nullopt);
    return 0;
  }
  VerifyOptions options;
  options.at = at;
  options.accepted_tcb_statuses = {TcbStatus::kUpToDate,
                                   TcbStatus::kSwHardeningNeeded,
                                   TcbStatus::kConfigurationNeeded,
                                   TcbStatus::kConfigurationAndSwHardeningNeeded,
                                   TcbStatus::kOutOfDate,
                                   TcbStatus::kOutOfDateConfigurationNeeded,
                                   TcbStatus::kRevoked};
  auto verified = Verify(input, *collateral, options);
  if (!verified && verified.error().message.empty()) std::abort();
  return 0;
}
