#include "attest/tdx/collateral.h"

#include <map>
#include <nlohmann/json.hpp>

#include "common/text.h"
#include "crypto/signature.h"

namespace contrast::attest::tdx {
namespace {

using Json = nlohmann::json;

// Far above real responses (a few KiB); bounds the work on hostile input.
constexpr size_t kMaxBodySize = 1024 * 1024;
constexpr size_t kMaxLevels = 1024;

// ---- Cutting the signed value out of the body, byte-exactly ----

// Positions of one JSON value inside the text.
struct Span {
  size_t begin = 0;
  size_t end = 0;
};

class Scanner {
 public:
  explicit Scanner(std::string_view text) : text_(text) {}

  void SkipSpace() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool Eat(char c) {
    SkipSpace();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool AtEnd() {
    SkipSpace();
    return pos_ == text_.size();
  }
  // A string token; returns its raw contents (escapes left as they are: the
  // keys we look for contain none, so an escaped key never matches one).
  std::optional<std::string_view> String() {
    SkipSpace();
    if (pos_ >= text_.size() || text_[pos_] != '"') return std::nullopt;
    const size_t start = ++pos_;
    while (pos_ < text_.size() && text_[pos_] != '"') {
      if (text_[pos_] == '\\') ++pos_;
      ++pos_;
    }
    if (pos_ >= text_.size()) return std::nullopt;
    return text_.substr(start, pos_++ - start);
  }
  // Skips one value: a string, a bracketed object/array (nesting tracked
  // outside strings) or a bare literal. Well-formedness is left to the real
  // parser, which reads the cut-out bytes afterwards.
  std::optional<Span> Value() {
    SkipSpace();
    const size_t begin = pos_;
    if (pos_ >= text_.size()) return std::nullopt;
    const char first = text_[pos_];
    if (first == '"') {
      if (!String()) return std::nullopt;
    } else if (first == '{' || first == '[') {
      size_t depth = 0;
      do {
        const char c = text_[pos_];
        if (c == '"') {
          if (!String()) return std::nullopt;
          continue;
        }
        if (c == '{' || c == '[') ++depth;
        if (c == '}' || c == ']') --depth;
        ++pos_;
      } while (depth > 0 && pos_ < text_.size());
      if (depth != 0) return std::nullopt;
    } else {
      while (pos_ < text_.size() && std::string_view(",}] \t\n\r").find(text_[pos_]) == std::string_view::npos) {
        ++pos_;
      }
    }
    if (pos_ == begin) return std::nullopt;
    return Span{begin, pos_};
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

// The top-level members of a JSON object, by raw key. Duplicate keys are
// refused: two "tcbInfo" values would let a reader interpret one while the
// signature covers the other.
Result<std::map<std::string, Span, std::less<>>> TopLevelMembers(std::string_view body, std::string_view what) {
  auto malformed = [&](std::string_view why) {
    return Fail(ErrorCode::kParse, std::string(what) + " response is not a JSON object: " + std::string(why));
  };
  if (body.size() > kMaxBodySize) return malformed("larger than 1 MiB");
  Scanner s(body);
  std::map<std::string, Span, std::less<>> members;
  if (!s.Eat('{')) return malformed("no opening brace");
  if (!s.Eat('}')) {
    do {
      auto key = s.String();
      if (!key) return malformed("expected a key");
      if (!s.Eat(':')) return malformed("expected ':'");
      auto value = s.Value();
      if (!value) return malformed("bad value");
      if (!members.emplace(std::string(*key), *value).second) {
        return Fail(ErrorCode::kParse,
                    std::string(what) + " response has the key \"" + PrintableExcerpt(*key) + "\" twice");
      }
    } while (s.Eat(','));
    if (!s.Eat('}')) return malformed("expected ',' or '}'");
  }
  if (!s.AtEnd()) return malformed("trailing data after the object");
  return members;
}

// ---- Typed field access; nlohmann throws, we turn that into kParse ----

struct FieldError {
  std::string message;
};

const Json& Field(const Json& object, std::string_view key) {
  if (!object.is_object()) throw FieldError{"expected an object"};
  auto it = object.find(key);
  if (it == object.end()) throw FieldError{"missing \"" + std::string(key) + "\""};
  return *it;
}

std::string StringField(const Json& object, std::string_view key) {
  const Json& value = Field(object, key);
  if (!value.is_string()) throw FieldError{"\"" + std::string(key) + "\" is not a string"};
  return value.get<std::string>();
}

uint64_t UintField(const Json& object, std::string_view key, uint64_t max) {
  const Json& value = Field(object, key);
  if (!value.is_number_unsigned() || value.get<uint64_t>() > max) {
    throw FieldError{"\"" + std::string(key) + "\" is not an integer from 0 to " + std::to_string(max)};
  }
  return value.get<uint64_t>();
}

template <size_t N>
std::array<uint8_t, N> HexField(const Json& object, std::string_view key) {
  const std::string text = StringField(object, key);
  auto bytes = HexDecode(text);
  if (!bytes || bytes->size() != N) {
    throw FieldError{"\"" + std::string(key) + "\" is not " + std::to_string(N) + " bytes of hex"};
  }
  std::array<uint8_t, N> out{};
  std::copy(bytes->begin(), bytes->end(), out.begin());
  return out;
}

uint32_t HexU32Field(const Json& object, std::string_view key) {
  // Intel writes miscselect as the big-endian hex of the u32 value.
  const auto bytes = HexField<4>(object, key);
  return (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) | (uint32_t{bytes[2]} << 8) | bytes[3];
}

TimePoint DateField(const Json& object, std::string_view key) {
  const std::string text = StringField(object, key);
  auto time = ParseRfc3339(text);
  if (!time) throw FieldError{"\"" + std::string(key) + "\" is not an RFC 3339 time: " + PrintableExcerpt(text)};
  return *time;
}

TcbStatus StatusField(const Json& object) {
  const std::string text = StringField(object, "tcbStatus");
  auto status = ParseTcbStatus(text);
  if (!status) throw FieldError{status.error().message};
  return *status;
}

std::vector<std::string> AdvisoriesField(const Json& object) {
  std::vector<std::string> out;
  auto it = object.find("advisoryIDs");
  if (it == object.end()) return out;
  if (!it->is_array() || it->size() > kMaxLevels) throw FieldError{"\"advisoryIDs\" is not an array"};
  for (const Json& id : *it) {
    if (!id.is_string()) throw FieldError{"\"advisoryIDs\" holds a non-string"};
    out.push_back(id.get<std::string>());
  }
  return out;
}

const Json& ArrayField(const Json& object, std::string_view key) {
  const Json& value = Field(object, key);
  if (!value.is_array() || value.size() > kMaxLevels) throw FieldError{"\"" + std::string(key) + "\" is not an array"};
  return value;
}

std::array<uint8_t, 16> Components(const Json& tcb, std::string_view key) {
  const Json& list = ArrayField(tcb, key);
  if (list.size() != 16) throw FieldError{"\"" + std::string(key) + "\" does not have 16 entries"};
  std::array<uint8_t, 16> out{};
  for (size_t i = 0; i < 16; ++i) out[i] = static_cast<uint8_t>(UintField(list[i], "svn", 255));
  return out;
}

std::vector<IsvTcbLevel> IsvLevels(const Json& object) {
  std::vector<IsvTcbLevel> levels;
  for (const Json& level : ArrayField(object, "tcbLevels")) {
    IsvTcbLevel out;
    out.isv_svn = static_cast<uint16_t>(UintField(Field(level, "tcb"), "isvsvn", 0xFFFF));
    out.tcb_date = DateField(level, "tcbDate");
    out.status = StatusField(level);
    out.advisory_ids = AdvisoriesField(level);
    levels.push_back(std::move(out));
  }
  return levels;
}

TdxModule Module(const Json& object) {
  TdxModule m;
  m.mr_signer = HexField<48>(object, "mrsigner");
  m.attributes = HexField<8>(object, "attributes");
  m.attributes_mask = HexField<8>(object, "attributesMask");
  return m;
}

TcbInfo TcbInfoFrom(const Json& j) {
  TcbInfo t;
  t.id = StringField(j, "id");
  t.version = static_cast<int>(UintField(j, "version", 1000));
  if (t.id != "TDX" || t.version != 3) {
    throw FieldError{"unsupported tcbInfo id \"" + PrintableExcerpt(t.id) + "\" version " + std::to_string(t.version) +
                     " (expected TDX version 3)"};
  }
  t.issue_date = DateField(j, "issueDate");
  t.next_update = DateField(j, "nextUpdate");
  t.fmspc = HexField<6>(j, "fmspc");
  t.pce_id = HexField<2>(j, "pceId");
  t.tcb_type = static_cast<int>(UintField(j, "tcbType", 1000));
  t.tcb_evaluation_data_number = static_cast<uint32_t>(UintField(j, "tcbEvaluationDataNumber", 0xFFFFFFFF));
  t.tdx_module = Module(Field(j, "tdxModule"));
  if (j.contains("tdxModuleIdentities")) {
    for (const Json& identity : ArrayField(j, "tdxModuleIdentities")) {
      TdxModuleIdentity out;
      out.id = StringField(identity, "id");
      out.module = Module(identity);
      out.levels = IsvLevels(identity);
      t.tdx_module_identities.push_back(std::move(out));
    }
  }
  for (const Json& level : ArrayField(j, "tcbLevels")) {
    TcbLevel out;
    const Json& tcb = Field(level, "tcb");
    out.sgx_components = Components(tcb, "sgxtcbcomponents");
    out.pce_svn = static_cast<uint16_t>(UintField(tcb, "pcesvn", 0xFFFF));
    out.tdx_components = Components(tcb, "tdxtcbcomponents");
    out.tcb_date = DateField(level, "tcbDate");
    out.status = StatusField(level);
    out.advisory_ids = AdvisoriesField(level);
    t.levels.push_back(std::move(out));
  }
  if (t.levels.empty()) throw FieldError{"no tcbLevels"};
  return t;
}

QeIdentity QeIdentityFrom(const Json& j) {
  QeIdentity q;
  q.id = StringField(j, "id");
  q.version = static_cast<int>(UintField(j, "version", 1000));
  if (q.id != "TD_QE" || q.version != 2) {
    throw FieldError{"unsupported enclaveIdentity id \"" + PrintableExcerpt(q.id) + "\" version " +
                     std::to_string(q.version) + " (expected TD_QE version 2)"};
  }
  q.issue_date = DateField(j, "issueDate");
  q.next_update = DateField(j, "nextUpdate");
  q.tcb_evaluation_data_number = static_cast<uint32_t>(UintField(j, "tcbEvaluationDataNumber", 0xFFFFFFFF));
  q.misc_select = HexU32Field(j, "miscselect");
  q.misc_select_mask = HexU32Field(j, "miscselectMask");
  q.attributes = HexField<16>(j, "attributes");
  q.attributes_mask = HexField<16>(j, "attributesMask");
  q.mr_signer = HexField<32>(j, "mrsigner");
  q.isv_prod_id = static_cast<uint16_t>(UintField(j, "isvprodid", 0xFFFF));
  q.levels = IsvLevels(j);
  if (q.levels.empty()) throw FieldError{"no tcbLevels"};
  return q;
}

template <typename T, typename Convert>
Result<SignedCollateral<T>> ParseResponse(std::string_view body, std::string_view key, Convert convert) {
  auto members = TopLevelMembers(body, key);
  if (!members) return Fail(members.error());
  auto value = members->find(key);
  auto signature = members->find("signature");
  if (value == members->end() || signature == members->end()) {
    return Fail(ErrorCode::kParse, std::string(key) + " response lacks \"" + std::string(key) + "\" or \"signature\"");
  }
  SignedCollateral<T> out;
  out.signed_json = std::string(body.substr(value->second.begin, value->second.end - value->second.begin));
  const Json signed_value = Json::parse(out.signed_json, nullptr, /*allow_exceptions=*/false);
  const Json signature_value = Json::parse(
      body.substr(signature->second.begin, signature->second.end - signature->second.begin), nullptr, false);
  if (signed_value.is_discarded() || signature_value.is_discarded()) {
    return Fail(ErrorCode::kParse, std::string(key) + " response is not valid JSON");
  }
  auto signature_bytes = signature_value.is_string() ? HexDecode(signature_value.get<std::string>())
                                                     : Result<Bytes>(Fail(ErrorCode::kParse, "not a string"));
  if (!signature_bytes || signature_bytes->size() != 64) {
    return Fail(ErrorCode::kParse, std::string(key) + " signature is not 64 bytes of hex (r || s)");
  }
  std::copy(signature_bytes->begin(), signature_bytes->end(), out.signature.begin());
  try {
    out.value = convert(signed_value);
  } catch (const FieldError& e) {
    const ErrorCode code = e.message.starts_with("unsupported") ? ErrorCode::kUnsupported : ErrorCode::kParse;
    return Fail(code, std::string(key) + ": " + e.message);
  } catch (const Json::exception& e) {
    return Fail(ErrorCode::kParse, std::string(key) + ": " + e.what());
  }
  return out;
}

}  // namespace

std::string_view TcbStatusName(TcbStatus status) {
  switch (status) {
    case TcbStatus::kUpToDate: return "UpToDate";
    case TcbStatus::kSwHardeningNeeded: return "SWHardeningNeeded";
    case TcbStatus::kConfigurationNeeded: return "ConfigurationNeeded";
    case TcbStatus::kConfigurationAndSwHardeningNeeded: return "ConfigurationAndSWHardeningNeeded";
    case TcbStatus::kOutOfDate: return "OutOfDate";
    case TcbStatus::kOutOfDateConfigurationNeeded: return "OutOfDateConfigurationNeeded";
    case TcbStatus::kRevoked: return "Revoked";
  }
  return "Revoked";
}

Result<TcbStatus> ParseTcbStatus(std::string_view name) {
  for (TcbStatus s : {TcbStatus::kUpToDate, TcbStatus::kSwHardeningNeeded, TcbStatus::kConfigurationNeeded,
                      TcbStatus::kConfigurationAndSwHardeningNeeded, TcbStatus::kOutOfDate,
                      TcbStatus::kOutOfDateConfigurationNeeded, TcbStatus::kRevoked}) {
    if (TcbStatusName(s) == name) return s;
  }
  return Fail(ErrorCode::kParse, "unknown TCB status \"" + PrintableExcerpt(name) + "\"");
}

Result<SignedTcbInfo> ParseTcbInfoResponse(std::string_view body) {
  return ParseResponse<TcbInfo>(body, "tcbInfo", TcbInfoFrom);
}

Result<SignedQeIdentity> ParseQeIdentityResponse(std::string_view body) {
  return ParseResponse<QeIdentity>(body, "enclaveIdentity", QeIdentityFrom);
}

Status VerifyCollateralSignature(std::string_view signed_json, const std::array<uint8_t, 64>& signature,
                                 const crypto::Certificate& tcb_signing, std::string_view what) {
  EVP_PKEY* key = tcb_signing.PublicKey();
  if (key == nullptr) return Fail(ErrorCode::kCertificateInvalid, "TCB signing certificate has no usable key");
  const ByteView sig(signature);
  auto status =
      crypto::VerifyEcdsa(key, crypto::DigestAlgorithm::kSha256, AsBytes(signed_json), sig.first(32), sig.subspan(32));
  if (!status) {
    return Fail(ErrorCode::kSignatureInvalid,
                std::string(what) + " signature does not verify with the TCB signing key: " + status.error().message);
  }
  return {};
}

Status CheckCollateralCurrent(TimePoint issue_date, TimePoint next_update, TimePoint at, std::string_view what) {
  if (at < issue_date) {
    return Fail(ErrorCode::kCertificateExpired, std::string(what) + " is not yet valid: issueDate " +
                                                    FormatRfc3339(issue_date) + " is after " + FormatRfc3339(at));
  }
  if (at >= next_update) {
    return Fail(ErrorCode::kCertificateExpired, std::string(what) + " has expired: nextUpdate " +
                                                    FormatRfc3339(next_update) + " is not after " + FormatRfc3339(at));
  }
  return {};
}

Result<crypto::Certificate> VerifyCollateralIssuerChain(std::string_view pem, const crypto::Certificate& pinned_root) {
  auto chain = crypto::Certificate::ParsePemChain(pem);
  if (!chain) return Fail(ErrorCode::kCertificateInvalid, "collateral issuer chain: " + chain.error().message);
  if (chain->size() != 2) {
    return Fail(ErrorCode::kCertificateInvalid,
                "collateral issuer chain has " + std::to_string(chain->size()) +
                    " certificates (expected the TCB signing certificate and the root)");
  }
  const crypto::Certificate& signing = (*chain)[0];
  const crypto::Certificate& root = (*chain)[1];
  if (root.Der() != pinned_root.Der()) {
    return Fail(ErrorCode::kUntrustedRoot, "collateral issuer chain ends in \"" + root.SubjectText() + "\" (SHA-256 " +
                                               HexEncode(root.Sha256Fingerprint()) + "), not the pinned root");
  }
  if (signing.SubjectCommonName() != "Intel SGX TCB Signing") {
    return Fail(ErrorCode::kCertificateInvalid,
                "collateral is signed by \"" + signing.SubjectText() + "\", not the Intel SGX TCB Signing certificate");
  }
  if (auto signed_by = signing.VerifySignedBy(pinned_root); !signed_by) {
    return Fail(signed_by.error().code, "TCB signing certificate: " + signed_by.error().message);
  }
  return signing;
}

Status CheckTcbSigningCertificate(const crypto::Certificate& tcb_signing, const crypto::Certificate& root,
                                  const std::optional<crypto::Crl>& root_crl, TimePoint at) {
  if (auto valid = tcb_signing.CheckValidAt(at, "the Intel SGX TCB Signing certificate"); !valid) return valid;
  if (auto valid = root.CheckValidAt(at, "the Intel SGX Root CA"); !valid) return valid;
  if (root_crl) {
    if (auto ok = root_crl->VerifySignedBy(root); !ok) {
      return Fail(ok.error().code, "root CA CRL: " + ok.error().message);
    }
    if (auto ok = root_crl->CheckCurrentAt(at); !ok) return Fail(ok.error().code, "root CA CRL: " + ok.error().message);
    if (root_crl->IsRevoked(tcb_signing)) {
      return Fail(ErrorCode::kCertificateRevoked,
                  "the Intel SGX TCB Signing certificate (serial " + tcb_signing.SerialHex() + ") is revoked");
    }
  }
  return {};
}

}  // namespace contrast::attest::tdx
