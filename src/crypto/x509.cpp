#include "crypto/x509.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include <chrono>
#include <climits>
#include <cstring>
#include <ctime>

namespace contrast::crypto {
namespace {

constexpr std::string_view kPemHeader = "-----BEGIN";

bool LooksLikePem(ByteView data) { return AsChars(data).find(kPemHeader) != std::string_view::npos; }

// A read-only memory BIO over `data`; null when it is too large for OpenSSL.
BioPtr MemoryBio(std::string_view data) {
  if (data.size() > static_cast<size_t>(INT_MAX)) return nullptr;
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

// True when the last error says "no more PEM blocks", as opposed to a broken one.
bool IsEndOfPem() {
  const unsigned long err = ERR_peek_last_error();
  return ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE;
}

std::string NameEntry(const X509_NAME* name, int nid) {
  if (name == nullptr) return {};
  const int index = X509_NAME_get_index_by_NID(name, nid, -1);
  if (index < 0) return {};
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  unsigned char* utf8 = nullptr;
  const int length = ASN1_STRING_to_UTF8(&utf8, data);
  if (length < 0) {
    ClearOpensslErrors();
    return {};
  }
  OpensslBytesPtr owner(utf8);
  return std::string(reinterpret_cast<const char*>(utf8), static_cast<size_t>(length));
}

std::string NameText(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || name == nullptr) return {};
  if (X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) {
    ClearOpensslErrors();
    return {};
  }
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  if (length <= 0 || data == nullptr) return {};
  return std::string(data, static_cast<size_t>(length));
}

std::string Iso(TimePoint t) { return FormatRfc3339(t); }

void FreeCrlStackShallow(STACK_OF(X509_CRL) * stack) { sk_X509_CRL_free(stack); }
using CrlStackPtr = Owned<STACK_OF(X509_CRL), FreeCrlStackShallow>;

ErrorCode ChainErrorCode(int error) {
  switch (error) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
    case X509_V_ERR_CRL_HAS_EXPIRED:
    case X509_V_ERR_CRL_NOT_YET_VALID: return ErrorCode::kCertificateExpired;
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    case X509_V_ERR_CRL_SIGNATURE_FAILURE:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE: return ErrorCode::kSignatureInvalid;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_UNTRUSTED: return ErrorCode::kUntrustedRoot;
    case X509_V_ERR_CERT_REVOKED: return ErrorCode::kCertificateRevoked;
    default: return ErrorCode::kCertificateInvalid;
  }
}

}  // namespace

Result<TimePoint> FromAsn1Time(const ASN1_TIME* time) {
  std::tm tm{};
  if (time == nullptr || ASN1_TIME_to_tm(time, &tm) != 1) {
    ClearOpensslErrors();
    return Fail(ErrorCode::kCertificateInvalid, "malformed ASN.1 time");
  }
  using namespace std::chrono;
  const year_month_day date{year{tm.tm_year + 1900}, month{static_cast<unsigned>(tm.tm_mon + 1)},
                            day{static_cast<unsigned>(tm.tm_mday)}};
  if (!date.ok()) return Fail(ErrorCode::kCertificateInvalid, "ASN.1 time has an invalid date");
  return sys_days{date} + hours{tm.tm_hour} + minutes{tm.tm_min} + seconds{tm.tm_sec};
}

// --- Certificate -------------------------------------------------------------

Certificate::Certificate(X509Ptr x509, TimePoint not_before, TimePoint not_after)
    : x509_(std::move(x509)), not_before_(not_before), not_after_(not_after) {}

Certificate::Certificate(const Certificate& other) : not_before_(other.not_before_), not_after_(other.not_after_) {
  if (other.x509_ && X509_up_ref(other.x509_.get()) == 1) x509_.reset(other.x509_.get());
}

Certificate& Certificate::operator=(const Certificate& other) {
  if (this != &other) {
    x509_.reset();
    if (other.x509_ && X509_up_ref(other.x509_.get()) == 1) x509_.reset(other.x509_.get());
    not_before_ = other.not_before_;
    not_after_ = other.not_after_;
  }
  return *this;
}

Result<Certificate> Certificate::FromX509(X509Ptr x509) {
  if (!x509) return Fail(ErrorCode::kInvalidArgument, "null certificate");
  auto not_before = FromAsn1Time(X509_get0_notBefore(x509.get()));
  if (!not_before) return Fail(not_before.error().Wrap("certificate notBefore"));
  auto not_after = FromAsn1Time(X509_get0_notAfter(x509.get()));
  if (!not_after) return Fail(not_after.error().Wrap("certificate notAfter"));
  return Certificate(std::move(x509), *not_before, *not_after);
}

Result<Certificate> Certificate::ParseDer(ByteView der) {
  if (der.empty()) return Fail(ErrorCode::kCertificateInvalid, "certificate is empty");
  if (der.size() > static_cast<size_t>(LONG_MAX)) return Fail(ErrorCode::kCertificateInvalid, "certificate too large");
  const unsigned char* p = der.data();
  X509Ptr x509(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!x509) return Fail(OpensslError(ErrorCode::kCertificateInvalid, "malformed DER certificate"));
  const auto consumed = static_cast<size_t>(p - der.data());
  if (consumed != der.size()) {
    return Fail(ErrorCode::kCertificateInvalid,
                "DER certificate is followed by " + std::to_string(der.size() - consumed) + " trailing bytes");
  }
  return FromX509(std::move(x509));
}

Result<Certificate> Certificate::ParsePem(std::string_view pem) {
  BioPtr bio = MemoryBio(pem);
  if (!bio) return Fail(ErrorCode::kCertificateInvalid, "PEM certificate too large");
  X509Ptr x509(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!x509) return Fail(OpensslError(ErrorCode::kCertificateInvalid, "no valid PEM certificate"));
  return FromX509(std::move(x509));
}

Result<Certificate> Certificate::ParseAuto(ByteView data) {
  if (LooksLikePem(data)) return ParsePem(AsChars(data));
  return ParseDer(data);
}

Result<std::vector<Certificate>> Certificate::ParsePemChain(std::string_view pem) {
  BioPtr bio = MemoryBio(pem);
  if (!bio) return Fail(ErrorCode::kCertificateInvalid, "PEM certificate chain too large");
  std::vector<Certificate> chain;
  for (;;) {
    X509Ptr x509(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!x509) {
      if (!chain.empty() && IsEndOfPem()) {
        ClearOpensslErrors();
        break;
      }
      return Fail(OpensslError(ErrorCode::kCertificateInvalid,
                               "PEM certificate " + std::to_string(chain.size() + 1) + " is missing or malformed"));
    }
    auto cert = FromX509(std::move(x509));
    if (!cert) return Fail(cert.error().Wrap("PEM certificate " + std::to_string(chain.size() + 1)));
    chain.push_back(std::move(*cert));
  }
  return chain;
}

Bytes Certificate::Der() const {
  const int length = i2d_X509(x509_.get(), nullptr);
  if (length <= 0) {
    ClearOpensslErrors();
    return {};
  }
  Bytes out(static_cast<size_t>(length));
  unsigned char* p = out.data();
  i2d_X509(x509_.get(), &p);
  return out;
}

Sha256Digest Certificate::Sha256Fingerprint() const { return Sha256(Der()); }

std::string Certificate::SubjectCommonName() const {
  return NameEntry(X509_get_subject_name(x509_.get()), NID_commonName);
}
std::string Certificate::IssuerCommonName() const {
  return NameEntry(X509_get_issuer_name(x509_.get()), NID_commonName);
}
std::string Certificate::SubjectText() const { return NameText(X509_get_subject_name(x509_.get())); }
std::string Certificate::IssuerText() const { return NameText(X509_get_issuer_name(x509_.get())); }

Bytes Certificate::Serial() const {
  BignumPtr bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(x509_.get()), nullptr));
  if (!bn) {
    ClearOpensslErrors();
    return {};
  }
  Bytes out(static_cast<size_t>(BN_num_bytes(bn.get())));
  BN_bn2bin(bn.get(), out.data());
  return out;
}

std::string Certificate::SerialHex() const { return HexEncode(Serial()); }

bool Certificate::ValidAt(TimePoint at) const { return not_before_ <= at && at <= not_after_; }

Status Certificate::CheckValidAt(TimePoint at, std::string_view what) const {
  if (ValidAt(at)) return {};
  const char* state = at < not_before_ ? "not yet valid" : "expired";
  return Fail(ErrorCode::kCertificateExpired, std::string(what) + " is " + state + " at " + Iso(at) + " (valid from " +
                                                  Iso(not_before_) + " until " + Iso(not_after_) + ")");
}

EVP_PKEY* Certificate::PublicKey() const {
  EVP_PKEY* key = X509_get0_pubkey(x509_.get());
  if (key == nullptr) ClearOpensslErrors();
  return key;
}

bool Certificate::SelfIssued() const {
  return X509_NAME_cmp(X509_get_subject_name(x509_.get()), X509_get_issuer_name(x509_.get())) == 0;
}

Status Certificate::VerifySignedBy(const Certificate& issuer) const {
  if (X509_NAME_cmp(X509_get_issuer_name(x509_.get()), X509_get_subject_name(issuer.get())) != 0) {
    return Fail(ErrorCode::kUntrustedRoot,
                "issuer is \"" + IssuerText() + "\", expected \"" + issuer.SubjectText() + "\"");
  }
  return VerifySignatureWith(issuer.PublicKey());
}

Status Certificate::VerifySignatureWith(EVP_PKEY* key) const {
  if (key == nullptr) return Fail(ErrorCode::kCertificateInvalid, "issuer public key is unusable");
  if (X509_verify(x509_.get(), key) == 1) return {};
  return Fail(OpensslError(ErrorCode::kSignatureInvalid, "certificate signature does not verify"));
}

std::vector<Extension> Certificate::Extensions() const {
  std::vector<Extension> out;
  const int count = X509_get_ext_count(x509_.get());
  for (int i = 0; i < count; ++i) {
    X509_EXTENSION* ext = X509_get_ext(x509_.get(), i);
    if (ext == nullptr) continue;
    Extension e;
    const ASN1_OBJECT* obj = X509_EXTENSION_get_object(ext);
    const int length = OBJ_obj2txt(nullptr, 0, obj, 1);
    if (length > 0) {
      e.oid.resize(static_cast<size_t>(length) + 1);
      OBJ_obj2txt(e.oid.data(), length + 1, obj, 1);
      e.oid.resize(static_cast<size_t>(length));
    }
    e.critical = X509_EXTENSION_get_critical(ext) != 0;
    const ASN1_OCTET_STRING* data = X509_EXTENSION_get_data(ext);
    if (data != nullptr) {
      const unsigned char* bytes = ASN1_STRING_get0_data(data);
      e.value.assign(bytes, bytes + ASN1_STRING_length(data));
    }
    out.push_back(std::move(e));
  }
  ClearOpensslErrors();
  return out;
}

Result<std::optional<Bytes>> Certificate::ExtensionValue(std::string_view oid) const {
  const std::string text(oid);
  Asn1ObjectPtr obj(OBJ_txt2obj(text.c_str(), 1));
  if (!obj) {
    ClearOpensslErrors();
    return Fail(ErrorCode::kInvalidArgument, "malformed OID \"" + text + "\"");
  }
  const int index = X509_get_ext_by_OBJ(x509_.get(), obj.get(), -1);
  if (index < 0) return std::optional<Bytes>();
  if (X509_get_ext_by_OBJ(x509_.get(), obj.get(), index) >= 0) {
    return Fail(ErrorCode::kCertificateInvalid, "extension " + text + " occurs more than once");
  }
  const ASN1_OCTET_STRING* data = X509_EXTENSION_get_data(X509_get_ext(x509_.get(), index));
  if (data == nullptr) return std::optional<Bytes>(Bytes{});
  const unsigned char* bytes = ASN1_STRING_get0_data(data);
  return std::optional<Bytes>(Bytes(bytes, bytes + ASN1_STRING_length(data)));
}

// --- Crl ---------------------------------------------------------------------

Crl::Crl(X509CrlPtr crl, TimePoint this_update, std::optional<TimePoint> next_update)
    : crl_(std::move(crl)), this_update_(this_update), next_update_(next_update) {}

Crl::Crl(const Crl& other) : this_update_(other.this_update_), next_update_(other.next_update_) {
  if (other.crl_ && X509_CRL_up_ref(other.crl_.get()) == 1) crl_.reset(other.crl_.get());
}

Crl& Crl::operator=(const Crl& other) {
  if (this != &other) {
    crl_.reset();
    if (other.crl_ && X509_CRL_up_ref(other.crl_.get()) == 1) crl_.reset(other.crl_.get());
    this_update_ = other.this_update_;
    next_update_ = other.next_update_;
  }
  return *this;
}

Result<Crl> Crl::Parse(ByteView data) {
  if (data.empty()) return Fail(ErrorCode::kCertificateInvalid, "CRL is empty");
  X509CrlPtr crl;
  if (LooksLikePem(data)) {
    BioPtr bio = MemoryBio(AsChars(data));
    if (!bio) return Fail(ErrorCode::kCertificateInvalid, "PEM CRL too large");
    crl.reset(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
    if (!crl) return Fail(OpensslError(ErrorCode::kCertificateInvalid, "no valid PEM CRL"));
  } else {
    if (data.size() > static_cast<size_t>(LONG_MAX)) return Fail(ErrorCode::kCertificateInvalid, "CRL too large");
    const unsigned char* p = data.data();
    crl.reset(d2i_X509_CRL(nullptr, &p, static_cast<long>(data.size())));
    if (!crl) return Fail(OpensslError(ErrorCode::kCertificateInvalid, "malformed DER CRL"));
    if (static_cast<size_t>(p - data.data()) != data.size()) {
      return Fail(ErrorCode::kCertificateInvalid, "DER CRL is followed by trailing bytes");
    }
  }
  auto this_update = FromAsn1Time(X509_CRL_get0_lastUpdate(crl.get()));
  if (!this_update) return Fail(this_update.error().Wrap("CRL thisUpdate"));
  std::optional<TimePoint> next_update;
  if (const ASN1_TIME* next = X509_CRL_get0_nextUpdate(crl.get()); next != nullptr) {
    auto parsed = FromAsn1Time(next);
    if (!parsed) return Fail(parsed.error().Wrap("CRL nextUpdate"));
    next_update = *parsed;
  }
  return Crl(std::move(crl), *this_update, next_update);
}

std::string Crl::IssuerText() const { return NameText(X509_CRL_get_issuer(crl_.get())); }

Status Crl::VerifySignedBy(const Certificate& issuer) const {
  if (X509_NAME_cmp(X509_CRL_get_issuer(crl_.get()), X509_get_subject_name(issuer.get())) != 0) {
    return Fail(ErrorCode::kUntrustedRoot,
                "CRL issuer is \"" + IssuerText() + "\", expected \"" + issuer.SubjectText() + "\"");
  }
  EVP_PKEY* key = issuer.PublicKey();
  if (key == nullptr) return Fail(ErrorCode::kCertificateInvalid, "CRL issuer public key is unusable");
  if (X509_CRL_verify(crl_.get(), key) == 1) return {};
  return Fail(OpensslError(ErrorCode::kSignatureInvalid,
                           "CRL signature does not verify with the key of \"" + issuer.SubjectText() + "\""));
}

Status Crl::CheckCurrentAt(TimePoint at) const {
  if (at < this_update_) {
    return Fail(ErrorCode::kCertificateExpired,
                "CRL is not yet valid at " + Iso(at) + " (thisUpdate " + Iso(this_update_) + ")");
  }
  if (next_update_ && at > *next_update_) {
    return Fail(ErrorCode::kCertificateExpired,
                "CRL is out of date at " + Iso(at) + " (nextUpdate " + Iso(*next_update_) + ")");
  }
  return {};
}

bool Crl::IsRevoked(const Certificate& certificate) const {
  X509_REVOKED* entry = nullptr;
  const int found = X509_CRL_get0_by_serial(crl_.get(), &entry, X509_get0_serialNumber(certificate.get()));
  ClearOpensslErrors();
  return found == 1;
}

// --- Chains ------------------------------------------------------------------

Status VerifyChain(const Certificate& leaf, std::span<const Certificate> intermediates,
                   std::span<const Certificate> anchors, TimePoint at, std::span<const Crl> crls) {
  if (anchors.empty()) return Fail(ErrorCode::kUntrustedRoot, "no trust anchors given");
  X509StorePtr store(X509_STORE_new());
  X509StackPtr untrusted(sk_X509_new_null());
  CrlStackPtr crl_stack(sk_X509_CRL_new_null());
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!store || !untrusted || !crl_stack || !ctx) return Fail(OpensslError(ErrorCode::kCrypto, "allocating store"));
  for (const Certificate& anchor : anchors) {
    // X509_STORE_add_cert takes its own reference.
    if (X509_STORE_add_cert(store.get(), anchor.get()) != 1) {
      return Fail(OpensslError(ErrorCode::kCrypto, "adding a trust anchor"));
    }
  }
  for (const Certificate& cert : intermediates) {
    if (X509_up_ref(cert.get()) != 1) return Fail(OpensslError(ErrorCode::kCrypto, "referencing a certificate"));
    if (sk_X509_push(untrusted.get(), cert.get()) <= 0) {
      X509_free(cert.get());
      return Fail(OpensslError(ErrorCode::kCrypto, "collecting intermediates"));
    }
  }
  for (const Crl& crl : crls) {
    if (sk_X509_CRL_push(crl_stack.get(), crl.get()) <= 0) {
      return Fail(OpensslError(ErrorCode::kCrypto, "collecting CRLs"));
    }
  }
  if (X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), untrusted.get()) != 1) {
    return Fail(OpensslError(ErrorCode::kCrypto, "initialising chain verification"));
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_time(param, static_cast<time_t>(at.time_since_epoch().count()));
  if (!crls.empty()) {
    X509_STORE_CTX_set0_crls(ctx.get(), crl_stack.get());
    X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
  }
  const int rc = X509_verify_cert(ctx.get());
  if (rc == 1) {
    ClearOpensslErrors();
    return {};
  }
  const int error = X509_STORE_CTX_get_error(ctx.get());
  const int depth = X509_STORE_CTX_get_error_depth(ctx.get());
  std::string subject;
  if (X509* current = X509_STORE_CTX_get_current_cert(ctx.get()); current != nullptr) {
    subject = NameText(X509_get_subject_name(current));
  }
  ClearOpensslErrors();
  return Fail(ChainErrorCode(error), std::string("certificate chain does not verify at ") + Iso(at) + ": " +
                                         X509_verify_cert_error_string(error) + " (depth " + std::to_string(depth) +
                                         (subject.empty() ? "" : ", \"" + subject + "\"") + ")");
}

}  // namespace contrast::crypto
