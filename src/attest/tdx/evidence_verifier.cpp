#include "attest/tdx/evidence_verifier.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "common/bytes.h"

namespace contrast::attest::tdx {
namespace {

// Verified collateral is reused at most this long even before its
// nextUpdate, so that what the collateral source refreshed (Intel publishes
// new TCB evaluations before nextUpdate) reaches the verifier.
constexpr std::chrono::hours kMaxCollateralReuse{1};
// Distinct platforms whose collateral is kept; beyond this the cache starts
// over.
constexpr size_t kMaxCachedCollateral = 64;

// The statuses some entry accepts: the TCB evaluation must reach one of them;
// which entry accepts which is checked in validation.
std::vector<TcbStatus> UnionOfAcceptedStatuses(const std::vector<TdxReferenceValues>& entries) {
  std::vector<TcbStatus> out;
  for (const TdxReferenceValues& entry : entries) {
    const std::vector<TcbStatus> accepted = entry.accepted_tcb_statuses.empty()
                                                ? std::vector<TcbStatus>{TcbStatus::kUpToDate}
                                                : entry.accepted_tcb_statuses;
    for (TcbStatus status : accepted) {
      if (std::find(out.begin(), out.end(), status) == out.end()) out.push_back(status);
    }
  }
  return out;
}

TimePoint EarliestNextUpdate(const VerifiedCollateral& collateral) {
  TimePoint out = std::min(collateral.tcb_info().value.next_update, collateral.qe_identity().value.next_update);
  for (const auto* crl : {&collateral.pck_crl(), &collateral.root_crl()}) {
    if (*crl && (*crl)->NextUpdate()) out = std::min(out, *(*crl)->NextUpdate());
  }
  return out;
}

std::string AllowedList(const std::vector<snp::ByteArray<32>>& allowed) {
  std::string out;
  for (size_t i = 0; i < allowed.size() && i < 4; ++i) out += (i > 0 ? ", " : "") + HexEncode(allowed[i]);
  if (allowed.size() > 4) out += ", ... " + std::to_string(allowed.size()) + " in all";
  return out;
}

}  // namespace

Result<Collateral> PcsCollateralSource::Fetch(const std::array<uint8_t, 6>& fmspc, PckCa ca) {
  auto tcb_info = client_.FetchTcbInfo(fmspc);
  if (!tcb_info) return Fail(tcb_info.error().Wrap("fetching the TDX TCB info"));
  auto qe_identity = client_.FetchQeIdentity();
  if (!qe_identity) return Fail(qe_identity.error().Wrap("fetching the TD QE identity"));
  auto pck_crl = client_.FetchPckCrl(ca);
  if (!pck_crl) return Fail(pck_crl.error().Wrap("fetching the PCK CRL"));
  auto root_crl = client_.FetchRootCaCrl();
  if (!root_crl) return Fail(root_crl.error().Wrap("fetching the Intel SGX Root CA CRL"));
  Collateral out;
  out.tcb_info.assign(tcb_info->body.begin(), tcb_info->body.end());
  out.qe_identity.assign(qe_identity->body.begin(), qe_identity->body.end());
  // Both documents are signed by the TCB signing certificate; the verifier
  // checks this chain against its pinned root.
  out.issuer_chain = tcb_info->issuer_chain_pem;
  out.pck_crl = std::move(pck_crl->body);
  out.root_crl = std::move(root_crl->body);
  return out;
}

TdMeasurements MeasurementsOf(const VerifiedQuote& verified) {
  const TdReport& td = verified.td_report();
  TdMeasurements m;
  m.mrtd = td.mr_td;
  m.rtmr = td.rtmrs;
  m.mrseam = td.mr_seam;
  m.xfam = td.xfam;
  m.td_attributes = td.td_attributes;
  m.mrconfigid = td.mr_config_id;
  m.report_data = td.report_data;
  m.tee_tcb_svn = td.tee_tcb_svn;
  m.qe_svn = verified.quote().qe_report.isv_svn;
  m.pce_svn = verified.pck().pce_svn;
  m.tcb_evaluation_data_number = verified.tcb().tcb_evaluation_data_number;
  if (const auto& piid = verified.pck().platform_instance_id; piid && piid->size() == 16) {
    std::array<uint8_t, 16> out{};
    std::copy(piid->begin(), piid->end(), out.begin());
    m.platform_instance_id = out;
  }
  m.memory_integrity = verified.pck().sgx_type == 2;
  m.smt_enabled = verified.pck().smt_enabled;
  m.dynamic_platform = verified.pck().dynamic_platform;
  m.tcb_status = verified.tcb_status();
  return m;
}

TdxEvidenceVerifier::TdxEvidenceVerifier(PcsOptions pcs, Clock clock)
    : clock_(clock ? std::move(clock) : Clock([] { return Now(); })),
      source_(std::make_shared<PcsCollateralSource>(std::move(pcs))),
      verifier_() {}

TdxEvidenceVerifier::TdxEvidenceVerifier(crypto::Certificate pinned_root,
                                         std::shared_ptr<TdxCollateralSource> collateral, Clock clock)
    : clock_(clock ? std::move(clock) : Clock([] { return Now(); })),
      source_(std::move(collateral)),
      verifier_(std::move(pinned_root)) {}

TdxEvidenceVerifier::~TdxEvidenceVerifier() = default;

size_t TdxEvidenceVerifier::collateral_verifications() const {
  std::lock_guard lock(mutex_);
  return collateral_verifications_;
}

Result<std::shared_ptr<const VerifiedCollateral>> TdxEvidenceVerifier::CollateralFor(const Quote& quote,
                                                                                     TimePoint now) const {
  // Which collateral to fetch comes from the quote's PCK chain before it is
  // verified; the signatures over everything are checked afterwards, so a
  // lie here only fetches the wrong collateral, which then fails.
  auto chain = crypto::Certificate::ParsePemChain(quote.pck_chain_pem);
  if (!chain) return Fail(ErrorCode::kCertificateInvalid, "the quote's PCK chain: " + chain.error().message);
  if (chain->size() < 2) {
    return Fail(ErrorCode::kCertificateInvalid, "the quote's PCK chain has " + std::to_string(chain->size()) +
                                                    " certificates; expected leaf, PCK CA and root");
  }
  auto pck = ParsePckExtension((*chain)[0]);
  if (!pck) return Fail(pck.error());
  const PckCa ca =
      (*chain)[1].SubjectCommonName().find("Processor") != std::string::npos ? PckCa::kProcessor : PckCa::kPlatform;
  const std::string key = HexEncode(pck->fmspc) + (ca == PckCa::kProcessor ? "/processor" : "/platform");
  {
    std::lock_guard lock(mutex_);
    if (auto it = collateral_.find(key); it != collateral_.end() && now < it->second.valid_until) {
      return it->second.collateral;
    }
  }
  // Fetched outside the lock: a slow PCS must not stall sessions whose
  // collateral is cached. Two sessions may fetch at once; both results are
  // equally good.
  auto raw = source_->Fetch(pck->fmspc, ca);
  if (!raw) return Fail(raw.error());
  auto verified = VerifyCollateral(*raw, verifier_.pinned_root());
  if (!verified) return Fail(verified.error().Wrap("TDX collateral"));
  auto shared = std::make_shared<const VerifiedCollateral>(std::move(*verified));
  const TimePoint valid_until = std::min(EarliestNextUpdate(*shared), now + kMaxCollateralReuse);
  std::lock_guard lock(mutex_);
  ++collateral_verifications_;
  if (collateral_.size() >= kMaxCachedCollateral) collateral_.clear();
  collateral_[key] = CachedCollateral{shared, valid_until};
  return std::shared_ptr<const VerifiedCollateral>(std::move(shared));
}

Result<VerifiedEvidence> TdxEvidenceVerifier::Verify(const Evidence& evidence, const ReportData& expected_report_data,
                                                     const AcceptableReferenceValues& reference_values) const {
  if (evidence.platform != kPlatformTdx) {
    return Fail(ErrorCode::kInvalidArgument, "the TDX verifier got evidence of platform \"" + evidence.platform + "\"");
  }
  if (reference_values.allowed_host_data.empty()) {
    return Fail(ErrorCode::kInvalidArgument, "no allowed HOST_DATA (policy hashes) given to the verifier");
  }
  if (reference_values.tdx.empty()) {
    return Fail(ErrorCode::kValidationFailed, "the reference values have no entry for platform \"tdx\"");
  }
  auto quote = ParseQuote(evidence.report);
  if (!quote) return Fail(quote.error().Wrap("TDX quote"));
  // The cheap checks first (see SnpEvidenceVerifier::Verify): a quote not
  // bound to this session, or of a policy nobody allowed, is refused before
  // any certificate, signature or network work.
  if (quote->td_report.report_data != expected_report_data) {
    return Fail(ErrorCode::kValidationFailed,
                "REPORTDATA: expected " + HexEncode(expected_report_data) + ", got " +
                    HexEncode(quote->td_report.report_data) +
                    ": the evidence is not bound to this session (nonce, role and TLS key)");
  }
  const std::optional<PolicyDigest> policy = PolicyDigestFromMrConfigId(quote->td_report.mr_config_id);
  if (!policy) {
    return Fail(ErrorCode::kPolicyViolation, "MRCONFIGID: expected a policy digest zero-padded to 48 bytes, got " +
                                                 HexEncode(quote->td_report.mr_config_id));
  }
  const std::vector<PolicyDigest>& allowed = reference_values.allowed_host_data;
  if (std::find(allowed.begin(), allowed.end(), *policy) == allowed.end()) {
    return Fail(ErrorCode::kPolicyViolation, "MRCONFIGID: policy " + HexEncode(*policy) +
                                                 " is not one of the allowed policies (" + AllowedList(allowed) + ")");
  }

  const TimePoint now = clock_();
  auto collateral = CollateralFor(*quote, now);
  if (!collateral) return Fail(collateral.error());
  VerifyOptions options;
  options.at = now;
  options.accepted_tcb_statuses = UnionOfAcceptedStatuses(reference_values.tdx);
  options.require_crls = true;
  auto verified = verifier_.Verify(evidence.report, **collateral, options);
  if (!verified) return Fail(verified.error());

  TdxValidateOptions validate;
  validate.expected_report_data = expected_report_data;
  const TdxValidationResult validation =
      ValidateAgainstAny(reference_values.tdx, MeasurementsOf(*verified), allowed, validate);
  if (auto ok = validation.ToStatus(); !ok) return Fail(ok.error());
  return VerifiedTdxEvidence(evidence.platform, std::move(*verified), *policy, /*insecure=*/false,
                             *validation.matched_entry);
}

}  // namespace contrast::attest::tdx
