#include "attest/verifier.h"

#include <utility>

namespace contrast::attest {

VerifiedEvidence Verifier::VerifiedSnpEvidence(std::string platform, snp::VerifiedReport report, bool insecure,
                                               size_t matched_entry) {
  VerifiedEvidence out;
  out.platform_ = std::move(platform);
  out.host_data_ = report.report().host_data;
  out.insecure_ = insecure;
  out.matched_entry_ = matched_entry;
  out.snp_ = std::move(report);
  return out;
}

VerifiedEvidence Verifier::VerifiedTdxEvidence(std::string platform, tdx::VerifiedQuote quote,
                                               const snp::ByteArray<32>& policy_digest, bool insecure,
                                               size_t matched_entry) {
  VerifiedEvidence out;
  out.platform_ = std::move(platform);
  out.host_data_ = policy_digest;
  out.insecure_ = insecure;
  out.matched_entry_ = matched_entry;
  out.tdx_ = std::move(quote);
  return out;
}

}  // namespace contrast::attest
