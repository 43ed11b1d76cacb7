// `contrast attestation verify --quote`: an Intel TDX quote, from a file,
// verified with Intel PCS collateral (given as files, or fetched and cached)
// and optionally validated against the manifest's ReferenceValues.tdx.
#include <algorithm>
#include <optional>
#include <ostream>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "attest/snp/reference_values.h"
#include "attest/tdx/evidence_verifier.h"
#include "attest/tdx/pcs.h"
#include "attest/tdx/quote.h"
#include "attest/tdx/reference_values.h"
#include "attest/tdx/verify.h"
#include "cli/app.h"
#include "cli/attestation.h"
#include "cli/attestation_output.h"
#include "common/files.h"
#include "common/time.h"
#include "crypto/x509.h"

namespace contrast::cli {
namespace {

namespace tdx = attest::tdx;

// A quote is about 5 KiB, collateral a few KiB, reference values small JSON.
constexpr size_t kMaxInputFile = 4 * 1024 * 1024;

const std::vector<tdx::TcbStatus> kEveryTcbStatus = {tdx::TcbStatus::kUpToDate,
                                                     tdx::TcbStatus::kSwHardeningNeeded,
                                                     tdx::TcbStatus::kConfigurationNeeded,
                                                     tdx::TcbStatus::kConfigurationAndSwHardeningNeeded,
                                                     tdx::TcbStatus::kOutOfDate,
                                                     tdx::TcbStatus::kOutOfDateConfigurationNeeded,
                                                     tdx::TcbStatus::kRevoked};

std::string Hex(ByteView bytes) { return HexEncode(bytes); }

nlohmann::ordered_json QuoteToJson(const tdx::Quote& quote) {
  const tdx::TdReport& td = quote.td_report;
  nlohmann::ordered_json j;
  j["version"] = quote.header.version;
  j["body_type"] = quote.body_type;
  j["qe_vendor_id"] = Hex(quote.header.qe_vendor_id);
  j["tee_tcb_svn"] = Hex(td.tee_tcb_svn);
  if (td.tee_tcb_svn2) j["tee_tcb_svn2"] = Hex(*td.tee_tcb_svn2);
  j["mr_seam"] = Hex(td.mr_seam);
  j["mr_signer_seam"] = Hex(td.mr_signer_seam);
  j["seam_attributes"] = Hex(td.seam_attributes);
  j["td_attributes"] = Hex(td.td_attributes);
  j["debug"] = td.debug();
  j["xfam"] = Hex(td.xfam);
  j["mr_td"] = Hex(td.mr_td);
  j["mr_config_id"] = Hex(td.mr_config_id);
  j["mr_owner"] = Hex(td.mr_owner);
  j["mr_owner_config"] = Hex(td.mr_owner_config);
  for (size_t i = 0; i < td.rtmrs.size(); ++i) j["rtmr" + std::to_string(i)] = Hex(td.rtmrs[i]);
  if (td.mr_service_td) j["mr_service_td"] = Hex(*td.mr_service_td);
  j["report_data"] = Hex(td.report_data);
  return j;
}

// The TDX entries and, when the file is a whole manifest, its policy hashes.
struct TdxReferenceFile {
  std::vector<tdx::TdxReferenceValues> entries;
  std::vector<tdx::PolicyDigest> policies;  // empty: not a manifest
};

Result<TdxReferenceFile> LoadTdxReferenceValues(const std::filesystem::path& path) {
  auto text = ReadTextFile(path, kMaxInputFile);
  if (!text) return Fail(text.error());
  auto parsed = attest::snp::ParseReferenceValues(*text);
  if (!parsed) return Fail(parsed.error().Wrap("invalid reference values in " + path.string()));
  TdxReferenceFile file;
  for (size_t i = 0; i < parsed->tdx.size(); ++i) {
    auto entry = tdx::ParseTdxReferenceValues(parsed->tdx[i], "ReferenceValues.tdx[" + std::to_string(i) + "]");
    if (!entry) return Fail(entry.error().Wrap("invalid reference values in " + path.string()));
    file.entries.push_back(std::move(*entry));
  }
  if (file.entries.empty()) return Fail(ErrorCode::kInvalidArgument, path.string() + ": no TDX entries");
  // ParseReferenceValues accepted the text, so it is JSON of bounded depth.
  const nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_object() && j.contains("Policies") && j["Policies"].is_object()) {
    for (const auto& [key, value] : j["Policies"].items()) {
      auto bytes = HexDecode(key);
      if (!bytes || bytes->size() != 32)
        return Fail(ErrorCode::kParse, path.string() + ": Policies." + key + ": not a policy hash");
      tdx::PolicyDigest digest{};
      std::copy(bytes->begin(), bytes->end(), digest.begin());
      file.policies.push_back(digest);
    }
  }
  return file;
}

std::vector<std::string> SplitList(const std::string& list) {
  std::vector<std::string> out;
  std::stringstream in(list);
  std::string item;
  while (std::getline(in, item, ',')) {
    const size_t first = item.find_first_not_of(" \t");
    if (first == std::string::npos) continue;
    out.push_back(item.substr(first, item.find_last_not_of(" \t") - first + 1));
  }
  return out;
}

// Collateral from files, or fetched from Intel PCS (with the cache).
Result<tdx::Collateral> LoadCollateral(const AttestationVerifyCommand& command, const tdx::Quote& quote,
                                       TimePoint verify_at, std::vector<Check>& checks) {
  tdx::Collateral collateral;
  const bool from_files =
      command.tcb_info || command.qe_identity || command.collateral_chain || command.pck_crl || command.root_crl;
  if (from_files) {
    if (!command.tcb_info || !command.qe_identity || !command.collateral_chain) {
      return Fail(ErrorCode::kInvalidArgument,
                  "--tcb-info, --qe-identity and --collateral-chain go together (or give none and the collateral "
                  "is fetched from Intel PCS)");
    }
    auto tcb_info = ReadTextFile(*command.tcb_info, kMaxInputFile);
    if (!tcb_info) return Fail(tcb_info.error());
    auto qe_identity = ReadTextFile(*command.qe_identity, kMaxInputFile);
    if (!qe_identity) return Fail(qe_identity.error());
    auto chain = ReadTextFile(*command.collateral_chain, kMaxInputFile);
    if (!chain) return Fail(chain.error());
    collateral.tcb_info = std::move(*tcb_info);
    collateral.qe_identity = std::move(*qe_identity);
    collateral.issuer_chain = std::move(*chain);
    if (command.pck_crl) {
      auto crl = ReadFile(*command.pck_crl, kMaxInputFile);
      if (!crl) return Fail(crl.error());
      collateral.pck_crl = std::move(*crl);
    }
    if (command.root_crl) {
      auto crl = ReadFile(*command.root_crl, kMaxInputFile);
      if (!crl) return Fail(crl.error());
      collateral.root_crl = std::move(*crl);
    }
    return collateral;
  }

  // The FMSPC and the issuing CA come from the quote's (not yet verified)
  // PCK certificate; the signatures over everything are checked afterwards.
  auto chain = crypto::Certificate::ParsePemChain(quote.pck_chain_pem);
  if (!chain || chain->size() < 2) {
    return Fail(ErrorCode::kCertificateInvalid,
                "the quote's PCK chain does not parse; cannot tell which collateral to fetch");
  }
  auto pck = tdx::ParsePckExtension((*chain)[0]);
  if (!pck) return Fail(pck.error());
  const tdx::PckCa ca = (*chain)[1].SubjectCommonName().find("Processor") != std::string::npos ? tdx::PckCa::kProcessor
                                                                                               : tdx::PckCa::kPlatform;
  tdx::PcsOptions options;
  if (!command.pcs_url.empty()) options.base_url = command.pcs_url;
  if (!command.collateral_proxy.empty()) options.collateral_proxy_url = command.collateral_proxy;
  if (command.cache_dir) options.cache_dir = *command.cache_dir / "pcs";
  // Cached collateral is fresh when it is current at the verification time.
  options.now = [at = verify_at] { return at; };
  tdx::PcsClient pcs(options);
  auto tcb_info = pcs.FetchTcbInfo(pck->fmspc);
  if (!tcb_info) return Fail(tcb_info.error().Wrap("fetching the TCB info"));
  auto qe_identity = pcs.FetchQeIdentity();
  if (!qe_identity) return Fail(qe_identity.error().Wrap("fetching the QE identity"));
  auto pck_crl = pcs.FetchPckCrl(ca);
  if (!pck_crl) return Fail(pck_crl.error().Wrap("fetching the PCK CRL"));
  auto root_crl = pcs.FetchRootCaCrl();
  if (!root_crl) return Fail(root_crl.error().Wrap("fetching the root CA CRL"));
  for (const auto* c : {&*tcb_info, &*qe_identity, &*pck_crl, &*root_crl}) {
    if (c->refresh_error) {
      checks.push_back({true, "", "using cached collateral (refresh failed: " + c->refresh_error->message + ")"});
    }
  }
  checks.push_back({true, "",
                    "collateral for FMSPC " + Hex(pck->fmspc) + " from " +
                        (options.collateral_proxy_url.empty() ? options.base_url : options.collateral_proxy_url)});
  collateral.tcb_info.assign(tcb_info->body.begin(), tcb_info->body.end());
  collateral.qe_identity.assign(qe_identity->body.begin(), qe_identity->body.end());
  collateral.issuer_chain = tcb_info->issuer_chain_pem;
  collateral.pck_crl = std::move(pck_crl->body);
  collateral.root_crl = std::move(root_crl->body);
  return collateral;
}

// Steps 1 to 4 of the verification (the quote's signatures, the QE binding
// and the PCK chain to the pinned root, with the CRLs when they parse): a
// description when they pass, empty otherwise.
std::string QuoteItselfVerifies(const tdx::Quote& quote, const tdx::Collateral& collateral, TimePoint at) {
  auto crl = [](const Bytes& bytes) -> std::optional<crypto::Crl> {
    if (bytes.empty()) return std::nullopt;
    auto parsed = crypto::Crl::Parse(bytes);
    return parsed ? std::optional<crypto::Crl>(std::move(*parsed)) : std::nullopt;
  };
  const std::optional<crypto::Crl> pck_crl = crl(collateral.pck_crl);
  const std::optional<crypto::Crl> root_crl = crl(collateral.root_crl);
  if (!tdx::VerifyQuoteSignatures(quote, tdx::IntelSgxRootCa(), at, pck_crl, root_crl)) return "";
  return std::string("the quote's signatures, QE binding and PCK chain to the pinned Intel SGX Root CA verify") +
         (pck_crl && root_crl ? " (not revoked)" : " (revocation not checked)") + "; its collateral does not:";
}

}  // namespace

int RunAttestationVerifyQuote(const AttestationVerifyCommand& command, std::ostream& out, std::ostream& err) {
  auto usage = [&](const Error& error) {
    err << "error: " << error.message << "\n";
    return kExitUsage;
  };
  auto quote_bytes = ReadFile(*command.quote, kMaxInputFile);
  if (!quote_bytes) return usage(quote_bytes.error());
  std::optional<TdxReferenceFile> reference;
  if (command.reference_values) {
    auto loaded = LoadTdxReferenceValues(*command.reference_values);
    if (!loaded) return usage(loaded.error());
    reference = std::move(*loaded);
  }
  tdx::VerifyOptions options;
  if (!command.at.empty()) {
    auto at = ParseRfc3339(command.at);
    if (!at) return usage(at.error().Wrap("--at"));
    options.at = *at;
  }
  options.accepted_tcb_statuses.clear();
  for (const std::string& name : SplitList(command.accept_tcb_status)) {
    auto status = tdx::ParseTcbStatus(name);
    if (!status) return usage(status.error().Wrap("--accept-tcb-status"));
    if (*status == tdx::TcbStatus::kRevoked) {
      return usage(Error{ErrorCode::kInvalidArgument, "--accept-tcb-status: a Revoked TCB is never acceptable"});
    }
    options.accepted_tcb_statuses.push_back(*status);
  }
  if (options.accepted_tcb_statuses.empty())
    return usage(Error{ErrorCode::kInvalidArgument, "--accept-tcb-status: empty"});

  std::vector<Check> checks;
  auto fail = [&](const Error& error) {
    checks.push_back({false, std::string(ErrorCodeName(error.code)), error.message});
  };
  nlohmann::ordered_json result;
  bool authentic = false;
  std::optional<tdx::TcbEvaluation> tcb;
  bool tcb_not_supported = false;  // authentic, but no TCB level of the TCB info matches
  std::optional<tdx::TdxValidationResult> validation;

  auto quote = tdx::ParseQuote(*quote_bytes);
  if (!quote) {
    fail(quote.error().Wrap("parsing " + command.quote->string()));
  } else {
    result["quote"] = QuoteToJson(*quote);
    auto collateral = LoadCollateral(command, *quote, options.at, checks);
    if (!collateral) {
      if (collateral.error().code == ErrorCode::kInvalidArgument) return usage(collateral.error());
      fail(collateral.error());
    } else {
      // Verified with every status allowed, so that an authentic quote on a
      // platform whose TCB is not accepted is reported as exactly that; the
      // accepted list is applied below.
      tdx::VerifyOptions any_status = options;
      // CRLs the user did not give are reported as not checked (the fetch
      // path always has both).
      any_status.require_crls = false;
      any_status.accepted_tcb_statuses = kEveryTcbStatus;
      auto verified = tdx::Verify(*quote_bytes, *collateral, any_status);
      if (!verified) {
        // The TCB evaluation runs after every signature and certificate
        // check, and only it fails with these codes.
        const ErrorCode code = verified.error().code;
        if (code == ErrorCode::kTcbTooLow || code == ErrorCode::kTcbMismatch ||
            code == ErrorCode::kMeasurementMismatch) {
          authentic = true;
          checks.push_back({true, "", "signatures, PCK chain and collateral verify"});
          if (code == ErrorCode::kTcbTooLow) tcb_not_supported = true;
          fail(verified.error().Wrap("TCB evaluation"));
        } else {
          // Whether the quote itself is genuine does not depend on the
          // collateral: say so when only the collateral failed.
          if (auto own = QuoteItselfVerifies(*quote, *collateral, options.at); !own.empty()) {
            authentic = true;
            checks.push_back({true, "", own});
          }
          fail(verified.error());
        }
      }
      if (verified) {
        authentic = true;
        tcb = verified->tcb();
        checks.push_back({true, "",
                          "PCK chain to the pinned Intel SGX Root CA (" + verified->pck_issuer() + "), valid at " +
                              FormatRfc3339(options.at) +
                              (verified->revocation_checked() ? ", not revoked (PCK and root CRLs)" : "")});
        if (!verified->revocation_checked()) {
          checks.push_back({true, "",
                            "revocation NOT checked: give --pck-crl and --root-crl (or no collateral files, to fetch "
                            "everything from Intel PCS)"});
        }
        checks.push_back({true, "", "QE report signed by the PCK key; attestation key bound to the QE report"});
        checks.push_back({true, "", "quote signature (ECDSA P-256, SHA-256) verifies"});
        checks.push_back({true, "", "TCB info and QE identity signed by Intel and current"});
        std::string status_line = "TCB status " + std::string(tdx::TcbStatusName(tcb->status));
        if (!tcb->tdx_module_identity.empty()) status_line += " (TDX module " + tcb->tdx_module_identity + ")";
        if (auto accepted = tdx::CheckTcbStatusAccepted(*tcb, options.accepted_tcb_statuses); !accepted) {
          fail(accepted.error());
        } else {
          checks.push_back({true, "", status_line + " is accepted"});
        }
        const tdx::TdMeasurements measurements = tdx::MeasurementsOf(*verified);
        if (reference) {
          std::vector<tdx::PolicyDigest> allowed = reference->policies;
          if (allowed.empty()) {
            // Reference values without a manifest: the policy the TD names is
            // reported, not checked against a list.
            if (auto digest = tdx::PolicyDigestFromMrConfigId(measurements.mrconfigid)) {
              allowed.push_back(*digest);
              checks.push_back({true, "",
                                "MRCONFIGID names policy " + Hex(*digest) +
                                    " (not checked: the reference values are not a whole manifest)"});
            }
          }
          validation = tdx::ValidateAgainstAny(reference->entries, measurements, allowed);
        } else {
          validation = tdx::ValidateBaseline(measurements);
        }
      }
    }
  }

  const bool valid = authentic && tcb && validation && validation->ok() && FailedChecks(checks) == 0;
  const std::string tcb_status = tcb ? std::string(tdx::TcbStatusName(tcb->status)) : "";
  if (command.json) {
    result["verification"] = {{"authentic", authentic}, {"insecure_root", false}, {"checks", ChecksJson(checks)}};
    if (tcb) {
      result["verification"]["tcb_status"] = tcb_status;
      result["verification"]["advisory_ids"] = tcb->advisory_ids;
    } else {
      result["verification"]["tcb_status"] = tcb_not_supported ? nlohmann::ordered_json("NotSupported") : nullptr;
    }
    if (validation) result["validation"] = ValidationJson(*validation, reference.has_value());
    result["verdict"] = valid ? "valid" : "invalid";
    out << result.dump(2) << "\n";
  } else {
    if (quote) {
      out << "TDX quote " << command.quote->string() << "\n";
      PrintFields(out, result["quote"], 2);
      out << "\n";
    }
    PrintChecks(out, "Verification (authenticity and TCB)", checks);
    if (validation) PrintValidation(out, *validation, reference.has_value());
    PrintVerdict(out, valid, FailedChecks(checks) + (validation ? validation->mismatches.size() : 0), false);
  }
  return valid ? kExitOk : kExitFailed;
}

}  // namespace contrast::cli
