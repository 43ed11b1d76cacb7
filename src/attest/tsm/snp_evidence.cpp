#include "attest/tsm/snp_evidence.h"

#include <algorithm>
#include <utility>

#include "attest/snp/abi.h"
#include "attest/snp/cert_table.h"
#include "crypto/x509_builder.h"

namespace contrast::attest::tsm {
namespace {

Result<std::string> PemOf(const snp::CertTable& table, const snp::CertTableGuid& guid, std::string_view what,
                          std::string_view source) {
  const auto der = table.Find(guid);
  if (!der) return std::string();
  auto pem = crypto::CertificatePemFromDer(*der);
  if (!pem) {
    return Fail(ErrorCode::kParse, std::string(source) + ": the " + std::string(what) + " in the certificate table (" +
                                       snp::GuidToString(guid) + ") is not a DER certificate: " + pem.error().message);
  }
  return *pem;
}

}  // namespace

Result<Evidence> MakeSnpEvidence(std::string_view platform, Bytes report, ByteView cert_table,
                                 const ReportData& report_data, std::string_view source) {
  auto parsed = snp::ParseReport(report);
  if (!parsed) return Fail(parsed.error().Wrap(std::string(source) + ": not an SNP attestation report"));
  // Our entry / request was private and the generation (configfs) unchanged,
  // so any other REPORT_DATA means a broken provider: fail here rather than
  // hand out evidence that can never verify for this session.
  if (!std::equal(parsed->report_data.begin(), parsed->report_data.end(), report_data.begin())) {
    return Fail(ErrorCode::kInternal, std::string(source) + ": the report carries REPORT_DATA " +
                                          HexEncode(parsed->report_data) + ", not the " + HexEncode(report_data) +
                                          " that was requested");
  }

  Evidence evidence;
  evidence.platform = std::string(platform);
  evidence.report = std::move(report);

  auto table = snp::ParseCertTable(cert_table);
  if (!table) return Fail(table.error().Wrap(std::string(source)));

  // The report names the key that signed it; a host that lists both a VCEK
  // and a VLEK does not get to choose. The other key, if any, is ignored.
  switch (parsed->Signer().signing_key) {
    case snp::SigningKey::kVcek: evidence.endorsement_key = table->Find(snp::kGuidVcek).value_or(Bytes{}); break;
    case snp::SigningKey::kVlek: evidence.endorsement_key = table->Find(snp::kGuidVlek).value_or(Bytes{}); break;
    case snp::SigningKey::kNone: break;
  }
  if (evidence.endorsement_key.size() > kMaxEndorsementKeySize) {
    return Fail(ErrorCode::kParse, std::string(source) + ": the endorsement key in the certificate table has " +
                                       std::to_string(evidence.endorsement_key.size()) + " bytes (at most " +
                                       std::to_string(kMaxEndorsementKeySize) + ")");
  }

  // ASK (or ASVK, same GUID) then ARK, the order Evidence::cert_chain wants.
  auto ask = PemOf(*table, snp::kGuidAsk, "ASK", source);
  if (!ask) return Fail(ask.error());
  auto ark = PemOf(*table, snp::kGuidArk, "ARK", source);
  if (!ark) return Fail(ark.error());
  evidence.cert_chain = *ask + *ark;
  if (evidence.cert_chain.size() > kMaxCertChainSize) {
    return Fail(ErrorCode::kParse, std::string(source) + ": ASK and ARK from the certificate table exceed " +
                                       std::to_string(kMaxCertChainSize) + " bytes");
  }
  return evidence;
}

}  // namespace contrast::attest::tsm
