#include "attest/tdx/verify.h"

#include <openssl/asn1.h>
#include <openssl/core_names.h>
#include <openssl/objects.h>
#include <openssl/params.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string_view>

#include "crypto/hash.h"
#include "crypto/signature.h"

namespace contrast::attest::tdx {
namespace {

#include "attest/tdx/intel_root.inc"

constexpr std::string_view kIntelSgxRootCaSha256 = "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3";

constexpr std::string_view kPckLeafName = "Intel SGX PCK Certificate";
constexpr std::string_view kPlatformCaName = "Intel SGX PCK Platform CA";
constexpr std::string_view kProcessorCaName = "Intel SGX PCK Processor CA";
constexpr std::string_view kSgxExtensionOid = "1.2.840.113741.1.13.1";

// ---- ASN.1 of the SGX extension: SEQUENCE OF SEQUENCE { OID, value } ----

void FreeAsn1Sequence(ASN1_SEQUENCE_ANY* p) { sk_ASN1_TYPE_pop_free(p, ASN1_TYPE_free); }
using Asn1SequencePtr = crypto::Owned<ASN1_SEQUENCE_ANY, FreeAsn1Sequence>;

Result<Asn1SequencePtr> ParseSequence(ByteView der, std::string_view what) {
  if (der.empty() || der.size() > 64 * 1024) {
    return Fail(ErrorCode::kCertificateInvalid, "PCK SGX extension: " + std::string(what) + " has a bad size");
  }
  const unsigned char* p = der.data();
  Asn1SequencePtr seq(d2i_ASN1_SEQUENCE_ANY(nullptr, &p, static_cast<long>(der.size())));
  if (!seq || p != der.data() + der.size()) {
    crypto::ClearOpensslErrors();
    return Fail(ErrorCode::kCertificateInvalid, "PCK SGX extension: " + std::string(what) + " is not a DER SEQUENCE");
  }
  return seq;
}

ByteView StringBytes(const ASN1_STRING* s) {
  return {ASN1_STRING_get0_data(s), static_cast<size_t>(std::max(0, ASN1_STRING_length(s)))};
}

std::string OidText(const ASN1_OBJECT* obj) {
  char buffer[128];
  const int n = OBJ_obj2txt(buffer, sizeof(buffer), obj, 1);
  if (n <= 0 || static_cast<size_t>(n) >= sizeof(buffer)) return {};
  return std::string(buffer, static_cast<size_t>(n));
}

// One { OID, value } pair of the extension.
struct Member {
  std::string oid;
  const ASN1_TYPE* value = nullptr;
  Asn1SequencePtr holder;  // keeps `value` alive
};

Result<std::vector<Member>> Members(ByteView der, std::string_view what) {
  auto seq = ParseSequence(der, what);
  if (!seq) return Fail(seq.error());
  std::vector<Member> out;
  for (int i = 0; i < sk_ASN1_TYPE_num(seq->get()); ++i) {
    const ASN1_TYPE* item = sk_ASN1_TYPE_value(seq->get(), i);
    if (item == nullptr || item->type != V_ASN1_SEQUENCE) {
      return Fail(ErrorCode::kCertificateInvalid, "PCK SGX extension: " + std::string(what) + " holds a non-SEQUENCE");
    }
    auto pair = ParseSequence(StringBytes(item->value.sequence), what);
    if (!pair) return Fail(pair.error());
    if (sk_ASN1_TYPE_num(pair->get()) != 2 || sk_ASN1_TYPE_value(pair->get(), 0)->type != V_ASN1_OBJECT) {
      return Fail(ErrorCode::kCertificateInvalid,
                  "PCK SGX extension: " + std::string(what) + " entry is not { OID, value }");
    }
    Member m;
    m.oid = OidText(sk_ASN1_TYPE_value(pair->get(), 0)->value.object);
    m.value = sk_ASN1_TYPE_value(pair->get(), 1);
    m.holder = std::move(*pair);
    out.push_back(std::move(m));
  }
  return out;
}

tl::unexpected<Error> Malformed(const std::string& oid) {
  return Fail(ErrorCode::kCertificateInvalid, "PCK SGX extension: " + oid + " has an unexpected type or size");
}

template <size_t N>
Status OctetsInto(const Member& m, std::array<uint8_t, N>& out) {
  if (m.value->type != V_ASN1_OCTET_STRING) return Malformed(m.oid);
  const ByteView bytes = StringBytes(m.value->value.octet_string);
  if (bytes.size() != N) return Malformed(m.oid);
  std::copy(bytes.begin(), bytes.end(), out.begin());
  return {};
}

Result<uint64_t> SmallInteger(const Member& m, int type, uint64_t max) {
  const ASN1_STRING* s = nullptr;
  if (type == V_ASN1_INTEGER && m.value->type == V_ASN1_INTEGER) s = m.value->value.integer;
  if (type == V_ASN1_ENUMERATED && m.value->type == V_ASN1_ENUMERATED) s = m.value->value.enumerated;
  if (s == nullptr) return Malformed(m.oid);
  // Negative numbers carry V_ASN1_NEG in the type; refuse them.
  if ((ASN1_STRING_type(s) & V_ASN1_NEG) != 0) return Malformed(m.oid);
  const ByteView bytes = StringBytes(s);
  if (bytes.size() > 8) return Malformed(m.oid);
  uint64_t value = 0;
  for (uint8_t b : bytes) value = (value << 8) | b;
  if (value > max) return Malformed(m.oid);
  return value;
}

Status ParseTcb(const Member& m, PckCertificateInfo& info) {
  if (m.value->type != V_ASN1_SEQUENCE) return Malformed(m.oid);
  auto members = Members(StringBytes(m.value->value.sequence), "TCB");
  if (!members) return Fail(members.error());
  const std::string prefix = std::string(kSgxExtensionOid) + ".2.";
  bool seen_pce = false, seen_cpu = false;
  unsigned seen_components = 0;
  for (const Member& c : *members) {
    if (!c.oid.starts_with(prefix)) continue;
    const std::string_view index = std::string_view(c.oid).substr(prefix.size());
    if (index == "17") {
      auto svn = SmallInteger(c, V_ASN1_INTEGER, 0xFFFF);
      if (!svn) return Fail(svn.error());
      info.pce_svn = static_cast<uint16_t>(*svn);
      seen_pce = true;
    } else if (index == "18") {
      if (auto ok = OctetsInto(c, info.cpu_svn); !ok) return ok;
      seen_cpu = true;
    } else {
      int n = 0;
      for (char ch : index) n = (ch >= '0' && ch <= '9' && n < 100) ? n * 10 + (ch - '0') : 1000;
      if (n < 1 || n > 16) continue;
      auto svn = SmallInteger(c, V_ASN1_INTEGER, 255);
      if (!svn) return Fail(svn.error());
      info.sgx_components[static_cast<size_t>(n - 1)] = static_cast<uint8_t>(*svn);
      seen_components |= 1u << (n - 1);
    }
  }
  if (!seen_pce || !seen_cpu || seen_components != 0xFFFF) {
    return Fail(ErrorCode::kCertificateInvalid, "PCK SGX extension: TCB lacks PCESVN, CPUSVN or a component SVN");
  }
  return {};
}

Status ParseConfiguration(const Member& m, PckCertificateInfo& info) {
  if (m.value->type != V_ASN1_SEQUENCE) return Malformed(m.oid);
  auto members = Members(StringBytes(m.value->value.sequence), "configuration");
  if (!members) return Fail(members.error());
  const std::string prefix = std::string(kSgxExtensionOid) + ".7.";
  for (const Member& c : *members) {
    if (c.value->type != V_ASN1_BOOLEAN) return Malformed(c.oid);
    const bool value = c.value->value.boolean != 0;
    if (c.oid == prefix + "1") info.dynamic_platform = value;
    if (c.oid == prefix + "2") info.cached_keys = value;
    if (c.oid == prefix + "3") info.smt_enabled = value;
  }
  return {};
}

// ---- Signatures over raw r || s ----

Status VerifyRawSignature(EVP_PKEY* key, ByteView message, const std::array<uint8_t, 64>& signature) {
  const ByteView sig(signature);
  return crypto::VerifyEcdsa(key, crypto::DigestAlgorithm::kSha256, message, sig.first(32), sig.subspan(32));
}

Result<crypto::EvpPkeyPtr> AttestationKey(const std::array<uint8_t, 64>& xy) {
  std::array<unsigned char, 65> point{};
  point[0] = 0x04;  // uncompressed
  std::copy(xy.begin(), xy.end(), point.begin() + 1);
  char group[] = "prime256v1";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()),
      OSSL_PARAM_construct_end(),
  };
  crypto::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params) != 1 || raw == nullptr) {
    crypto::ClearOpensslErrors();
    return Fail(ErrorCode::kSignatureInvalid, "the attestation key is not a P-256 point");
  }
  return crypto::EvpPkeyPtr(raw);
}

bool IsP256(EVP_PKEY* key) {
  if (key == nullptr || EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) return false;
  char name[64] = {};
  size_t length = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof(name), &length) != 1) {
    crypto::ClearOpensslErrors();
    return false;
  }
  return std::string_view(name, length) == "prime256v1";
}

// ---- PCK chain ----

// Verifies a CRL's signature by its issuer; a Verifier remembers the pairs it
// has verified.
using CrlSignatureCheck = std::function<Status(const crypto::Crl&, const crypto::Certificate&)>;

Status VerifyCrlSignature(const crypto::Crl& crl, const crypto::Certificate& issuer) {
  return crl.VerifySignedBy(issuer);
}

Status CheckCrl(const crypto::Crl& crl, const crypto::Certificate& issuer, const crypto::Certificate& subject,
                std::string_view crl_name, std::string_view subject_name, TimePoint at,
                const CrlSignatureCheck& verify_signature) {
  if (auto ok = verify_signature(crl, issuer); !ok) {
    return Fail(ok.error().code, std::string(crl_name) + ": " + ok.error().message);
  }
  if (auto ok = crl.CheckCurrentAt(at); !ok)
    return Fail(ok.error().code, std::string(crl_name) + ": " + ok.error().message);
  if (crl.IsRevoked(subject)) {
    return Fail(ErrorCode::kCertificateRevoked, std::string(subject_name) + " (serial " + subject.SerialHex() +
                                                    ") is revoked by the " + std::string(crl_name));
  }
  return {};
}

Result<std::vector<crypto::Certificate>> SplitPckChain(std::string_view pem) {
  // Intel terminates the chain with NUL bytes; they are not PEM.
  while (!pem.empty() && pem.back() == '\0') pem.remove_suffix(1);
  if (pem.find('\0') != std::string_view::npos) {
    return Fail(ErrorCode::kCertificateInvalid, "PCK cert chain invalid: NUL byte inside the PEM text");
  }
  auto chain = crypto::Certificate::ParsePemChain(pem);
  if (!chain) return Fail(ErrorCode::kCertificateInvalid, "PCK cert chain invalid: " + chain.error().message);
  if (chain->size() != 3) {
    return Fail(ErrorCode::kCertificateInvalid, "PCK cert chain invalid: " + std::to_string(chain->size()) +
                                                    " certificates (expected PCK leaf, PCK CA, root)");
  }
  return chain;
}

// ---- TCB evaluation ----

template <size_t N>
bool AllAtLeast(const std::array<uint8_t, N>& have, const std::array<uint8_t, N>& need, size_t from = 0) {
  for (size_t i = from; i < N; ++i) {
    if (have[i] < need[i]) return false;
  }
  return true;
}

// Intel QVL's convergence: an OutOfDate component makes an otherwise
// up-to-date (or merely hardening-needing) platform OutOfDate, and a
// configuration-needing one OutOfDateConfigurationNeeded; Revoked wins.
TcbStatus Converge(TcbStatus platform, TcbStatus component) {
  if (component == TcbStatus::kRevoked) return TcbStatus::kRevoked;
  if (component == TcbStatus::kOutOfDate || component == TcbStatus::kOutOfDateConfigurationNeeded) {
    switch (platform) {
      case TcbStatus::kUpToDate:
      case TcbStatus::kSwHardeningNeeded: return TcbStatus::kOutOfDate;
      case TcbStatus::kConfigurationNeeded:
      case TcbStatus::kConfigurationAndSwHardeningNeeded: return TcbStatus::kOutOfDateConfigurationNeeded;
      default: break;
    }
  }
  return platform;
}

const IsvTcbLevel* FirstIsvLevel(const std::vector<IsvTcbLevel>& levels, uint16_t svn) {
  for (const IsvTcbLevel& level : levels) {
    if (level.isv_svn <= svn) return &level;
  }
  return nullptr;
}

void AddAdvisories(std::vector<std::string>& out, const std::vector<std::string>& ids) {
  for (const std::string& id : ids) {
    if (std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
  }
}

std::string ComponentsText(ByteView c) {
  std::string out;
  for (uint8_t v : c) out += (out.empty() ? "" : ",") + std::to_string(v);
  return out;
}

template <size_t N>
bool MaskedEqual(const std::array<uint8_t, N>& value, const std::array<uint8_t, N>& mask,
                 const std::array<uint8_t, N>& expected) {
  for (size_t i = 0; i < N; ++i) {
    if ((value[i] & mask[i]) != (expected[i] & mask[i])) return false;
  }
  return true;
}

Status CheckModule(const TdReport& td, const TdxModule& module, std::string_view name) {
  if (td.mr_signer_seam != module.mr_signer) {
    return Fail(ErrorCode::kTcbMismatch, "MRSIGNERSEAM " + HexEncode(td.mr_signer_seam) + " differs from " +
                                             std::string(name) + " mrsigner " + HexEncode(module.mr_signer));
  }
  if (!MaskedEqual(td.seam_attributes, module.attributes_mask, module.attributes)) {
    return Fail(ErrorCode::kTcbMismatch, "SEAMATTRIBUTES " + HexEncode(td.seam_attributes) + " do not match " +
                                             std::string(name) + " attributes " + HexEncode(module.attributes) +
                                             " under mask " + HexEncode(module.attributes_mask));
  }
  return {};
}

Status CheckQeIdentity(const EnclaveReport& qe, const QeIdentity& identity) {
  if (qe.mr_signer != identity.mr_signer) {
    return Fail(
        ErrorCode::kMeasurementMismatch,
        "QE MRSIGNER " + HexEncode(qe.mr_signer) + " differs from the QE identity's " + HexEncode(identity.mr_signer));
  }
  if (qe.isv_prod_id != identity.isv_prod_id) {
    return Fail(ErrorCode::kMeasurementMismatch, "QE ISVPRODID " + std::to_string(qe.isv_prod_id) +
                                                     " differs from the QE identity's " +
                                                     std::to_string(identity.isv_prod_id));
  }
  if ((qe.misc_select & identity.misc_select_mask) != (identity.misc_select & identity.misc_select_mask)) {
    return Fail(ErrorCode::kMeasurementMismatch, "QE MISCSELECT does not match the QE identity under its mask");
  }
  if (!MaskedEqual(qe.attributes, identity.attributes_mask, identity.attributes)) {
    return Fail(ErrorCode::kMeasurementMismatch, "QE ATTRIBUTES " + HexEncode(qe.attributes) +
                                                     " do not match the QE identity's " +
                                                     HexEncode(identity.attributes) + " under its mask");
  }
  return {};
}

}  // namespace

const crypto::Certificate& IntelSgxRootCa() {
  static const crypto::Certificate root = [] {
    auto cert = crypto::Certificate::ParsePem(kPemIntelSgxRootCa);
    if (!cert || HexEncode(cert->Sha256Fingerprint()) != kIntelSgxRootCaSha256) {
      std::fprintf(stderr, "embedded Intel SGX Root CA does not match its pinned SHA-256 %s\n",
                   std::string(kIntelSgxRootCaSha256).c_str());
      std::abort();
    }
    return *cert;
  }();
  return root;
}

std::string_view IntelSgxRootCaSha256Hex() { return kIntelSgxRootCaSha256; }

Result<PckCertificateInfo> ParsePckExtension(const crypto::Certificate& pck) {
  auto value = pck.ExtensionValue(kSgxExtensionOid);
  if (!value) return Fail(ErrorCode::kCertificateInvalid, "PCK certificate: " + value.error().message);
  if (!*value) return Fail(ErrorCode::kCertificateInvalid, "PCK certificate lacks the SGX extension");
  auto members = Members(**value, "extension");
  if (!members) return Fail(members.error());
  PckCertificateInfo info;
  const std::string prefix = std::string(kSgxExtensionOid) + ".";
  unsigned seen = 0;
  for (const Member& m : *members) {
    if (!m.oid.starts_with(prefix)) continue;
    const std::string_view arc = std::string_view(m.oid).substr(prefix.size());
    Status ok;
    if (arc == "1") {
      ok = OctetsInto(m, info.ppid);
      seen |= 1;
    } else if (arc == "2") {
      ok = ParseTcb(m, info);
      seen |= 2;
    } else if (arc == "3") {
      ok = OctetsInto(m, info.pce_id);
      seen |= 4;
    } else if (arc == "4") {
      ok = OctetsInto(m, info.fmspc);
      seen |= 8;
    } else if (arc == "5") {
      auto type = SmallInteger(m, V_ASN1_ENUMERATED, 2);
      if (!type) return Fail(type.error());
      info.sgx_type = static_cast<int>(*type);
      seen |= 16;
    } else if (arc == "6") {
      if (m.value->type != V_ASN1_OCTET_STRING) return Malformed(m.oid);
      const ByteView id = StringBytes(m.value->value.octet_string);
      info.platform_instance_id = Bytes(id.begin(), id.end());
    } else if (arc == "7") {
      ok = ParseConfiguration(m, info);
    }
    if (!ok) return Fail(ok.error());
  }
  if (seen != 31) {
    return Fail(ErrorCode::kCertificateInvalid, "PCK SGX extension lacks PPID, TCB, PCE-ID, FMSPC or SGX type");
  }
  return info;
}

Result<TcbEvaluation> EvaluateTcb(const Quote& quote, const PckCertificateInfo& pck, const TcbInfo& tcb_info,
                                  const QeIdentity& qe_identity) {
  if (pck.fmspc != tcb_info.fmspc) {
    return Fail(ErrorCode::kTcbMismatch, "FMSPC " + HexEncode(pck.fmspc) +
                                             " of the PCK certificate differs from "
                                             "tcbInfo's " +
                                             HexEncode(tcb_info.fmspc));
  }
  if (pck.pce_id != tcb_info.pce_id) {
    return Fail(ErrorCode::kTcbMismatch, "PCE-ID " + HexEncode(pck.pce_id) +
                                             " of the PCK certificate differs from "
                                             "tcbInfo's " +
                                             HexEncode(tcb_info.pce_id));
  }
  const TdReport& td = quote.td_report;
  TcbEvaluation out;
  out.tcb_evaluation_data_number = tcb_info.tcb_evaluation_data_number;

  // The TDX module: TEE_TCB_SVN[1] is its major version, [0] its SVN. With
  // a major version > 0 the module has its own identity and levels, and the
  // platform comparison skips these two bytes.
  const uint8_t module_version = td.tee_tcb_svn[1];
  if (auto ok = CheckModule(td, tcb_info.tdx_module, "tcbInfo tdxModule"); !ok) return Fail(ok.error());
  const IsvTcbLevel* module_level = nullptr;
  if (module_version > 0 && !tcb_info.tdx_module_identities.empty()) {
    char id[8];
    std::snprintf(id, sizeof(id), "TDX_%02X", module_version);
    auto identity = std::find_if(tcb_info.tdx_module_identities.begin(), tcb_info.tdx_module_identities.end(),
                                 [&](const TdxModuleIdentity& m) { return m.id == id; });
    if (identity == tcb_info.tdx_module_identities.end()) {
      return Fail(ErrorCode::kTcbMismatch, std::string("tcbInfo has no TDX module identity ") + id +
                                               " (TEE_TCB_SVN[1] = " + std::to_string(module_version) + ")");
    }
    if (auto ok = CheckModule(td, identity->module, id); !ok) return Fail(ok.error());
    module_level = FirstIsvLevel(identity->levels, td.tee_tcb_svn[0]);
    if (module_level == nullptr) {
      return Fail(ErrorCode::kTcbTooLow, std::string("TDX module ") + id + " SVN " + std::to_string(td.tee_tcb_svn[0]) +
                                             " is below every level of its identity");
    }
    out.tdx_module_identity = id;
    out.tdx_module_status = module_level->status;
  }

  const size_t tdx_from = module_version > 0 ? 2 : 0;
  const TcbLevel* level = nullptr;
  for (const TcbLevel& candidate : tcb_info.levels) {
    if (AllAtLeast(pck.sgx_components, candidate.sgx_components) && pck.pce_svn >= candidate.pce_svn &&
        AllAtLeast(td.tee_tcb_svn, candidate.tdx_components, tdx_from)) {
      level = &candidate;
      break;
    }
  }
  if (level == nullptr) {
    return Fail(ErrorCode::kTcbTooLow,
                "no TCB level matches the platform (PCK SGX TCB components " + ComponentsText(pck.sgx_components) +
                    ", PCESVN " + std::to_string(pck.pce_svn) + ", TEE_TCB_SVN " + HexEncode(td.tee_tcb_svn) +
                    ") in tcbInfo for FMSPC " + HexEncode(tcb_info.fmspc) + " (evaluation data number " +
                    std::to_string(tcb_info.tcb_evaluation_data_number) + "): TCB not supported");
  }
  out.platform_status = level->status;
  out.tcb_date = level->tcb_date;
  AddAdvisories(out.advisory_ids, level->advisory_ids);

  if (auto ok = CheckQeIdentity(quote.qe_report, qe_identity); !ok) return Fail(ok.error());
  const IsvTcbLevel* qe_level = FirstIsvLevel(qe_identity.levels, quote.qe_report.isv_svn);
  if (qe_level == nullptr) {
    return Fail(ErrorCode::kTcbTooLow,
                "QE ISVSVN " + std::to_string(quote.qe_report.isv_svn) + " is below every level of the QE identity");
  }
  out.qe_status = qe_level->status;
  out.qe_tcb_date = qe_level->tcb_date;

  out.status = out.platform_status;
  if (module_level != nullptr) {
    out.status = Converge(out.status, module_level->status);
    AddAdvisories(out.advisory_ids, module_level->advisory_ids);
  }
  out.status = Converge(out.status, out.qe_status);
  AddAdvisories(out.advisory_ids, qe_level->advisory_ids);
  return out;
}

Status CheckTcbStatusAccepted(const TcbEvaluation& evaluation, std::span<const TcbStatus> accepted) {
  if (std::find(accepted.begin(), accepted.end(), evaluation.status) != accepted.end()) return {};
  std::string accepted_text, advisories;
  for (TcbStatus s : accepted) accepted_text += (accepted_text.empty() ? "" : ", ") + std::string(TcbStatusName(s));
  for (const std::string& id : evaluation.advisory_ids) advisories += (advisories.empty() ? "" : ", ") + id;
  return Fail(ErrorCode::kTcbTooLow,
              "TCB status " + std::string(TcbStatusName(evaluation.status)) +
                  " is not accepted (accepted: " + (accepted_text.empty() ? "none" : accepted_text) +
                  "); advisories: " + (advisories.empty() ? "none" : advisories));
}

VerifiedCollateral::VerifiedCollateral(SignedTcbInfo tcb_info, SignedQeIdentity qe_identity,
                                       crypto::Certificate tcb_signing, crypto::Certificate root)
    : tcb_info_(std::move(tcb_info)),
      qe_identity_(std::move(qe_identity)),
      tcb_signing_(std::move(tcb_signing)),
      root_(std::move(root)) {}

Result<VerifiedCollateral> VerifyCollateral(const Collateral& collateral, const crypto::Certificate& pinned_root) {
  auto tcb_info = ParseTcbInfoResponse(collateral.tcb_info);
  if (!tcb_info) return Fail(tcb_info.error());
  auto qe_identity = ParseQeIdentityResponse(collateral.qe_identity);
  if (!qe_identity) return Fail(qe_identity.error());
  auto signing = VerifyCollateralIssuerChain(collateral.issuer_chain, pinned_root);
  if (!signing) return Fail(signing.error());
  if (auto ok = VerifyCollateralSignature(tcb_info->signed_json, tcb_info->signature, *signing, "tcbInfo"); !ok) {
    return Fail(ok.error());
  }
  if (auto ok =
          VerifyCollateralSignature(qe_identity->signed_json, qe_identity->signature, *signing, "enclaveIdentity");
      !ok) {
    return Fail(ok.error());
  }
  VerifiedCollateral out(std::move(*tcb_info), std::move(*qe_identity), std::move(*signing), pinned_root);
  if (!collateral.pck_crl.empty()) {
    auto crl = crypto::Crl::Parse(collateral.pck_crl);
    if (!crl) return Fail(ErrorCode::kCertificateInvalid, "PCK CRL: " + crl.error().message);
    out.pck_crl_ = std::move(*crl);
  }
  if (!collateral.root_crl.empty()) {
    auto crl = crypto::Crl::Parse(collateral.root_crl);
    if (!crl) return Fail(ErrorCode::kCertificateInvalid, "root CA CRL: " + crl.error().message);
    if (auto ok = crl->VerifySignedBy(pinned_root); !ok) {
      return Fail(ok.error().code, "root CA CRL: " + ok.error().message);
    }
    out.root_crl_ = std::move(*crl);
  }
  return out;
}

namespace {

// What is the same for every quote of one platform and attestation key, and
// independent of the verification time: the PCK chain parsed and its
// signatures checked, the QE report signature, the attestation-key binding
// and the attestation key itself. OpenSSL 3 spends about 0.4 ms decoding
// each certificate, so this is what a Verifier caches.
struct Platform {
  VerifiedPckChain chain;
  crypto::Certificate root;
  crypto::EvpPkeyPtr attestation_key;
};

Result<std::shared_ptr<const Platform>> VerifyPlatform(const Quote& quote, const crypto::Certificate& pinned_root) {
  if (quote.header.qe_vendor_id != kIntelQeVendorId) {
    return Fail(ErrorCode::kUntrustedRoot, "QE vendor id " + HexEncode(quote.header.qe_vendor_id) + " is not Intel's");
  }
  auto chain = SplitPckChain(quote.pck_chain_pem);
  if (!chain) return Fail(chain.error());
  const crypto::Certificate& leaf = (*chain)[0];
  const crypto::Certificate& intermediate = (*chain)[1];
  const crypto::Certificate& root = (*chain)[2];
  // The embedded root must be the pinned one itself: a path builder given
  // the pinned root as its anchor would silently ignore a corrupted copy.
  if (root.Der() != pinned_root.Der()) {
    return Fail(ErrorCode::kUntrustedRoot, "PCK cert chain ends in \"" + root.SubjectText() + "\" (SHA-256 " +
                                               HexEncode(root.Sha256Fingerprint()) +
                                               "), not the pinned root (SHA-256 " +
                                               HexEncode(pinned_root.Sha256Fingerprint()) + ")");
  }
  const std::string ca_name = intermediate.SubjectCommonName();
  if (ca_name != kPlatformCaName && ca_name != kProcessorCaName) {
    return Fail(ErrorCode::kCertificateInvalid,
                "PCK CA is \"" + intermediate.SubjectText() + "\", not the Intel SGX PCK Platform or Processor CA");
  }
  if (leaf.SubjectCommonName() != kPckLeafName) {
    return Fail(ErrorCode::kCertificateInvalid,
                "PCK leaf is \"" + leaf.SubjectText() + "\", not an Intel SGX PCK Certificate");
  }
  if (auto ok = intermediate.VerifySignedBy(root); !ok) {
    return Fail(ok.error().code, "PCK CA signature failure: " + ok.error().message);
  }
  if (auto ok = leaf.VerifySignedBy(intermediate); !ok) {
    return Fail(ok.error().code, "PCK leaf signature failure: " + ok.error().message);
  }
  auto info = ParsePckExtension(leaf);
  if (!info) return Fail(info.error());

  EVP_PKEY* pck_key = leaf.PublicKey();
  if (!IsP256(pck_key)) return Fail(ErrorCode::kCertificateInvalid, "the PCK certificate's key is not EC P-256");
  if (auto ok = VerifyRawSignature(pck_key, quote.qe_report_bytes, quote.qe_report_signature); !ok) {
    return Fail(ErrorCode::kSignatureInvalid, "QE report signature does not verify with the PCK key");
  }
  Bytes bound(quote.attestation_key.begin(), quote.attestation_key.end());
  bound.insert(bound.end(), quote.qe_auth_data.begin(), quote.qe_auth_data.end());
  const crypto::Sha256Digest digest = crypto::Sha256(bound);
  const auto& report_data = quote.qe_report.report_data;
  if (!std::equal(digest.begin(), digest.end(), report_data.begin()) ||
      std::any_of(report_data.begin() + 32, report_data.end(), [](uint8_t b) { return b != 0; })) {
    return Fail(ErrorCode::kSignatureInvalid,
                "QE report data does not bind the attestation key: expected SHA-256(attestation key || QE auth "
                "data) = " +
                    HexEncode(digest) + " followed by zeros");
  }
  auto attestation_key = AttestationKey(quote.attestation_key);
  if (!attestation_key) return Fail(attestation_key.error());
  return std::make_shared<const Platform>(
      Platform{VerifiedPckChain{leaf, intermediate, std::move(*info)}, root, std::move(*attestation_key)});
}

// Validity at `at` and revocation: never cached.
Status CheckPlatformAt(const Platform& platform, TimePoint at, const std::optional<crypto::Crl>& pck_crl,
                       const std::optional<crypto::Crl>& root_crl,
                       const CrlSignatureCheck& verify_signature = VerifyCrlSignature) {
  const crypto::Certificate& leaf = platform.chain.leaf;
  const crypto::Certificate& intermediate = platform.chain.intermediate;
  const std::string ca_name = intermediate.SubjectCommonName();
  if (auto ok = leaf.CheckValidAt(at, "the PCK certificate"); !ok) return ok;
  if (auto ok = intermediate.CheckValidAt(at, "the " + ca_name); !ok) return ok;
  if (auto ok = platform.root.CheckValidAt(at, "the Intel SGX Root CA"); !ok) return ok;
  if (root_crl) {
    if (auto ok =
            CheckCrl(*root_crl, platform.root, intermediate, "root CA CRL", "the " + ca_name, at, verify_signature);
        !ok)
      return ok;
  }
  if (pck_crl) {
    if (auto ok = CheckCrl(*pck_crl, intermediate, leaf, "PCK CRL", "the PCK certificate", at, verify_signature); !ok)
      return ok;
  }
  return {};
}

Status CheckQuoteSignature(const Quote& quote, const Platform& platform) {
  if (auto ok = VerifyRawSignature(platform.attestation_key.get(), quote.signed_region, quote.signature); !ok) {
    return Fail(ErrorCode::kSignatureInvalid, "quote signature does not verify with the attestation key");
  }
  return {};
}

// Everything of a quote that identifies its platform part, for the cache.
crypto::Sha256Digest PlatformKey(const Quote& quote, const crypto::Certificate& root) {
  Bytes key(quote.pck_chain_pem.begin(), quote.pck_chain_pem.end());
  key.insert(key.end(), quote.qe_report_bytes.begin(), quote.qe_report_bytes.end());
  key.insert(key.end(), quote.qe_report_signature.begin(), quote.qe_report_signature.end());
  key.insert(key.end(), quote.attestation_key.begin(), quote.attestation_key.end());
  const uint64_t auth_size = quote.qe_auth_data.size();
  for (int i = 0; i < 8; ++i) key.push_back(static_cast<uint8_t>(auth_size >> (8 * i)));
  key.insert(key.end(), quote.qe_auth_data.begin(), quote.qe_auth_data.end());
  key.insert(key.end(), quote.header.qe_vendor_id.begin(), quote.header.qe_vendor_id.end());
  const crypto::Sha256Digest root_digest = root.Sha256Fingerprint();
  key.insert(key.end(), root_digest.begin(), root_digest.end());
  return crypto::Sha256(key);
}

// Bounds the cache against a stream of distinct hostile quotes.
constexpr size_t kMaxCachedPlatforms = 256;

}  // namespace

Result<VerifiedPckChain> VerifyQuoteSignatures(const Quote& quote, const crypto::Certificate& pinned_root, TimePoint at,
                                               const std::optional<crypto::Crl>& pck_crl,
                                               const std::optional<crypto::Crl>& root_crl) {
  auto platform = VerifyPlatform(quote, pinned_root);
  if (!platform) return Fail(platform.error());
  if (auto ok = CheckPlatformAt(**platform, at, pck_crl, root_crl); !ok) return Fail(ok.error());
  if (auto ok = CheckQuoteSignature(quote, **platform); !ok) return Fail(ok.error());
  return (*platform)->chain;
}

struct Verifier::Impl {
  explicit Impl(crypto::Certificate root) : pinned_root(std::move(root)) {}
  crypto::Certificate pinned_root;
  mutable std::mutex mutex;
  mutable std::map<crypto::Sha256Digest, std::shared_ptr<const Platform>> platforms;
  mutable size_t platform_verifications = 0;
  // SHA-256(CRL DER || issuer DER) of CRL signatures that verified.
  mutable std::set<crypto::Sha256Digest> verified_crls;

  Status CheckCrlSignature(const crypto::Crl& crl, const crypto::Certificate& issuer) const {
    unsigned char* der = nullptr;
    const int length = i2d_X509_CRL(crl.get(), &der);
    if (length <= 0) {
      crypto::ClearOpensslErrors();
      return crl.VerifySignedBy(issuer);
    }
    Bytes key(der, der + length);
    OPENSSL_free(der);
    const Bytes issuer_der = issuer.Der();
    key.insert(key.end(), issuer_der.begin(), issuer_der.end());
    const crypto::Sha256Digest digest = crypto::Sha256(key);
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (verified_crls.count(digest) != 0) return {};
    }
    if (auto ok = crl.VerifySignedBy(issuer); !ok) return ok;
    std::lock_guard<std::mutex> lock(mutex);
    if (verified_crls.size() >= kMaxCachedPlatforms) verified_crls.clear();
    verified_crls.insert(digest);
    return {};
  }

  Result<std::shared_ptr<const Platform>> Lookup(const Quote& quote) const {
    const crypto::Sha256Digest key = PlatformKey(quote, pinned_root);
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (auto it = platforms.find(key); it != platforms.end()) return it->second;
    }
    auto platform = VerifyPlatform(quote, pinned_root);
    std::lock_guard<std::mutex> lock(mutex);
    ++platform_verifications;
    if (!platform) return Fail(platform.error());  // failures are not cached: they are cheap to repeat
    if (platforms.size() >= kMaxCachedPlatforms) platforms.clear();
    platforms.emplace(key, *platform);
    return platform;
  }
};

Verifier::Verifier() : Verifier(IntelSgxRootCa()) {}

Verifier::Verifier(crypto::Certificate pinned_root) : impl_(std::make_unique<Impl>(std::move(pinned_root))) {}

Verifier::~Verifier() = default;

const crypto::Certificate& Verifier::pinned_root() const { return impl_->pinned_root; }

size_t Verifier::platform_verifications() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->platform_verifications;
}

Result<VerifiedQuote> Verifier::Verify(ByteView quote_bytes, const VerifiedCollateral& collateral,
                                       const VerifyOptions& options) const {
  const crypto::Certificate& pinned_root = impl_->pinned_root;
  if (options.pinned_root && options.pinned_root->Der() != pinned_root.Der()) {
    return Fail(ErrorCode::kInvalidArgument, "options.pinned_root differs from the Verifier's pinned root");
  }
  if (collateral.root().Der() != pinned_root.Der()) {
    return Fail(ErrorCode::kUntrustedRoot, "the collateral was verified against another root than the pinned one");
  }
  if (options.require_crls && (!collateral.pck_crl() || !collateral.root_crl())) {
    return Fail(ErrorCode::kInvalidArgument, "the PCK CRL and the root CA CRL are required");
  }
  auto quote = ParseQuote(quote_bytes);
  if (!quote) return Fail(quote.error());
  auto platform = impl_->Lookup(*quote);
  if (!platform) return Fail(platform.error());
  const auto check_crl_signature = [this](const crypto::Crl& crl, const crypto::Certificate& issuer) {
    return impl_->CheckCrlSignature(crl, issuer);
  };
  if (auto ok =
          CheckPlatformAt(**platform, options.at, collateral.pck_crl(), collateral.root_crl(), check_crl_signature);
      !ok) {
    return Fail(ok.error());
  }
  if (auto ok = CheckQuoteSignature(*quote, **platform); !ok) return Fail(ok.error());

  // The TCB signing certificate: validity here, revocation through the
  // cached CRL signature check (CheckTcbSigningCertificate does the same
  // without a cache).
  if (auto ok = CheckTcbSigningCertificate(collateral.tcb_signing(), pinned_root, std::nullopt, options.at); !ok) {
    return Fail(ok.error());
  }
  if (collateral.root_crl()) {
    if (auto ok = CheckCrl(*collateral.root_crl(), pinned_root, collateral.tcb_signing(), "root CA CRL",
                           "the Intel SGX TCB Signing certificate", options.at, check_crl_signature);
        !ok) {
      return Fail(ok.error());
    }
  }
  const TcbInfo& tcb_info = collateral.tcb_info().value;
  const QeIdentity& qe_identity = collateral.qe_identity().value;
  if (auto ok = CheckCollateralCurrent(tcb_info.issue_date, tcb_info.next_update, options.at, "tcbInfo"); !ok) {
    return Fail(ok.error());
  }
  if (auto ok = CheckCollateralCurrent(qe_identity.issue_date, qe_identity.next_update, options.at, "enclaveIdentity");
      !ok) {
    return Fail(ok.error());
  }
  const VerifiedPckChain& chain = (*platform)->chain;
  auto evaluation = EvaluateTcb(*quote, chain.info, tcb_info, qe_identity);
  if (!evaluation) return Fail(evaluation.error());
  if (auto ok = CheckTcbStatusAccepted(*evaluation, options.accepted_tcb_statuses); !ok) return Fail(ok.error());

  VerifiedQuote out;
  out.quote_ = std::move(*quote);
  out.tcb_ = std::move(*evaluation);
  out.pck_ = chain.info;
  out.pck_issuer_ = chain.intermediate.SubjectCommonName();
  out.revocation_checked_ = collateral.pck_crl().has_value() && collateral.root_crl().has_value();
  return out;
}

Result<VerifiedQuote> Verify(ByteView quote, const VerifiedCollateral& collateral, const VerifyOptions& options) {
  const Verifier verifier(options.pinned_root ? *options.pinned_root : IntelSgxRootCa());
  return verifier.Verify(quote, collateral, options);
}

Result<VerifiedQuote> Verify(ByteView quote, const Collateral& collateral, const VerifyOptions& options) {
  const crypto::Certificate& pinned_root = options.pinned_root ? *options.pinned_root : IntelSgxRootCa();
  auto verified = VerifyCollateral(collateral, pinned_root);
  if (!verified) return Fail(verified.error());
  return Verify(quote, *verified, options);
}

}  // namespace contrast::attest::tdx
