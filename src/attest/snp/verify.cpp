#include "attest/snp/verify.h"

#include <algorithm>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "crypto/hash.h"
#include "crypto/signature.h"
#include "crypto/x509.h"

namespace contrast::attest::snp {
namespace {

using crypto::Certificate;

// Beyond this many endorsement keys the cache starts over; a fleet has far
// fewer distinct VCEKs, and an attacker feeding fresh certificates only makes
// us redo work we would do anyway.
constexpr size_t kMaxCachedChains = 4096;

// The anchors of one product, parsed once. Their own signatures (ARK
// self-signature, ASK/ASVK under the ARK) are checked on first use.
struct AnchorState {
  Product product = Product::kUnknown;
  bool insecure = false;
  std::optional<Certificate> ark;
  std::optional<Certificate> ask;
  std::optional<Certificate> asvk;
  Error ark_error;  // why `ark` is absent
  Error ask_error;
  Error asvk_error;
  std::string root_name;
  // Guarded by Verifier::Impl::mutex.
  bool checked = false;
  Status ark_status;
  Status ask_status;
  Status asvk_status;
};

// A verified endorsement-key chain: the VCEK/VLEK signature under the
// anchored ASK/ASVK checked once. Validity and revocation depend on the time
// and the CRL of each call, so they are not part of it.
struct ChainEntry {
  Certificate endorsement_key;
  EndorsementKeyInfo info;
  Product product = Product::kUnknown;
  const AnchorState* anchor = nullptr;
  const Certificate* intermediate = nullptr;  // owned by *anchor
};

std::string Role(SigningKey kind) { return kind == SigningKey::kVlek ? "ASVK" : "ASK"; }

std::string Describe(const Certificate& cert, std::string_view role) {
  return std::string(role) + " \"" + cert.SubjectCommonName() + "\"";
}

void ParseAnchor(const Bytes& der, std::string_view role, std::optional<Certificate>& out, Error& error) {
  if (der.empty()) {
    error = Error{ErrorCode::kUntrustedRoot, "no " + std::string(role) + " is anchored"};
    return;
  }
  auto cert = Certificate::ParseDer(der);
  if (cert) {
    out = std::move(*cert);
  } else {
    error = cert.error().Wrap("anchored " + std::string(role));
  }
}

// ARK self-signature and pinned identity, ASK/ASVK under the ARK.
void CheckAnchor(AnchorState& a) {
  a.checked = true;
  const std::string product(ProductName(a.product));
  auto anchor_error = [&](ErrorCode code, const std::string& message) {
    return Fail(code, "trust anchor for " + product + ": " + message);
  };
  if (!a.ark) {
    a.ark_status = anchor_error(a.ark_error.code, a.ark_error.message);
  } else if (!a.insecure && !IsPinnedAmdCertificate(a.product, "ARK", a.ark->Der())) {
    a.ark_status = anchor_error(ErrorCode::kUntrustedRoot, "the ARK is not the pinned " + ArkCommonName(a.product) +
                                                               " (and the anchor is not marked insecure)");
  } else if (!a.ark->SelfIssued()) {
    a.ark_status = anchor_error(ErrorCode::kUntrustedRoot, "the ARK is not self-issued");
  } else if (auto s = a.ark->VerifySignatureWith(a.ark->PublicKey()); !s) {
    a.ark_status = anchor_error(s.error().code, "ARK self-signature: " + s.error().message);
  }
  auto check_intermediate = [&](const std::optional<Certificate>& cert, const Error& parse_error,
                                std::string_view role) -> Status {
    if (!a.ark_status) return a.ark_status;
    if (!cert) return anchor_error(parse_error.code, parse_error.message);
    if (!a.insecure && !IsPinnedAmdCertificate(a.product, role, cert->Der())) {
      return anchor_error(ErrorCode::kUntrustedRoot, "the " + std::string(role) +
                                                         " is not the pinned AMD certificate (and the anchor is "
                                                         "not marked insecure)");
    }
    if (auto s = cert->VerifySignedBy(*a.ark); !s) {
      return anchor_error(s.error().code,
                          "the " + std::string(role) + " is not signed by the ARK: " + s.error().message);
    }
    return {};
  };
  a.ask_status = check_intermediate(a.ask, a.ask_error, "ASK");
  a.asvk_status = check_intermediate(a.asvk, a.asvk_error, "ASVK");
}

// The product named by every source that names one; they must agree.
Result<Product> ChooseProduct(Product requested, Product from_cpuid, const EndorsementKeyInfo& info) {
  Product chosen = Product::kUnknown;
  std::vector<std::string> sources;
  bool disagree = false;
  auto consider = [&](Product p, const std::string& source) {
    if (p == Product::kUnknown) return;
    sources.push_back(source + " " + std::string(ProductName(p)));
    if (chosen == Product::kUnknown) {
      chosen = p;
    } else if (chosen != p) {
      disagree = true;
    }
  };
  consider(requested, "requested");
  consider(from_cpuid, "report CPUID");
  consider(info.product, std::string(SigningKeyName(info.kind)) + " productName \"" + info.product_name + "\":");
  if (chosen == Product::kUnknown) return Fail(ErrorCode::kProductMismatch, "cannot determine the product line");
  if (!disagree) return chosen;
  std::string message = "product lines disagree:";
  for (size_t i = 0; i < sources.size(); ++i) message += (i == 0 ? " " : ", ") + sources[i];
  return Fail(ErrorCode::kProductMismatch, message);
}

std::string TcbDifferences(const TcbParts& endorsed, const TcbParts& reported, Product product, SigningKey kind) {
  std::string out;
  auto component = [&](std::string_view name, uint8_t e, uint8_t r) {
    if (e == r) return;
    if (!out.empty()) out += "; ";
    out += std::string(name) + ": " + std::string(SigningKeyName(kind)) + " " + std::to_string(e) + ", report " +
           std::to_string(r);
  };
  if (product == Product::kTurin) component("fmc", endorsed.fmc, reported.fmc);
  component("bootloader", endorsed.bootloader, reported.bootloader);
  component("tee", endorsed.tee, reported.tee);
  component("snp", endorsed.snp, reported.snp);
  component("microcode", endorsed.microcode, reported.microcode);
  return out;
}

Status CheckTcb(const Report& report, const ChainEntry& chain) {
  const TcbParts reported = DecodeTcb(report.reported_tcb, chain.product);
  TcbParts endorsed = chain.info.tcb;
  if (chain.product != Product::kTurin) endorsed.fmc = 0;
  if (endorsed == reported) return {};
  return Fail(ErrorCode::kTcbMismatch, "REPORTED_TCB differs from the TCB the " +
                                           std::string(SigningKeyName(chain.info.kind)) + " was issued for (" +
                                           TcbDifferences(endorsed, reported, chain.product, chain.info.kind) +
                                           "). Expected " + FormatTcb(endorsed, chain.product) + ", report has " +
                                           FormatTcb(reported, chain.product));
}

Status CheckChipId(const Report& report, const ChainEntry& chain) {
  if (chain.info.kind != SigningKey::kVcek) return {};
  if (report.ChipIdMasked()) {
    return Fail(ErrorCode::kChipIdMismatch, "CHIP_ID is masked (all zero), so a VCEK cannot be bound to the report");
  }
  const Bytes& hwid = *chain.info.hwid;  // ParseEndorsementKey guarantees it for VCEKs
  const ByteView chip = ByteView(report.chip_id).first(std::min(hwid.size(), report.chip_id.size()));
  if (hwid.size() <= report.chip_id.size() && std::equal(chip.begin(), chip.end(), hwid.begin())) return {};
  return Fail(ErrorCode::kChipIdMismatch,
              "CHIP_ID " + HexEncode(chip) + " differs from the VCEK hwID " + HexEncode(hwid));
}

}  // namespace

struct Verifier::Impl {
  std::vector<std::unique_ptr<AnchorState>> anchors;  // stable addresses
  mutable std::mutex mutex;
  mutable std::unordered_map<std::string, std::shared_ptr<const ChainEntry>> cache;  // guarded by mutex
  mutable size_t chain_verifications = 0;                                            // guarded by mutex

  explicit Impl(const TrustAnchors& source) {
    for (const ProductAnchors& p : source.products) {
      auto a = std::make_unique<AnchorState>();
      a->product = p.product;
      a->insecure = p.insecure;
      ParseAnchor(p.ark_der, "ARK", a->ark, a->ark_error);
      ParseAnchor(p.ask_der, "ASK", a->ask, a->ask_error);
      ParseAnchor(p.asvk_der, "ASVK", a->asvk, a->asvk_error);
      if (a->ark) a->root_name = (p.insecure ? "non-AMD root " : "AMD ") + a->ark->SubjectCommonName();
      anchors.push_back(std::move(a));
    }
  }

  AnchorState* FindAnchor(Product product) const {
    for (const auto& a : anchors) {
      if (a->product == product) return a.get();
    }
    return nullptr;
  }

  // The anchor's own checks, once.
  Status AnchorStatus(AnchorState& a, SigningKey kind) const {
    std::lock_guard lock(mutex);
    if (!a.checked) CheckAnchor(a);
    return kind == SigningKey::kVlek ? a.asvk_status : a.ask_status;
  }

  // Finds or builds the verified chain for an endorsement key.
  Result<std::shared_ptr<const ChainEntry>> Chain(ByteView endorsement_key, Product requested,
                                                  Product from_cpuid) const {
    std::optional<Certificate> parsed;
    Bytes pem_der;
    ByteView der = endorsement_key;
    if (AsChars(endorsement_key).find("-----BEGIN") != std::string_view::npos) {
      auto cert = Certificate::ParsePem(AsChars(endorsement_key));
      if (!cert) return Fail(cert.error().Wrap("endorsement key"));
      pem_der = cert->Der();
      der = pem_der;
      parsed = std::move(*cert);
    }
    const std::string key = HexEncode(crypto::Sha256(der));
    {
      std::lock_guard lock(mutex);
      if (auto it = cache.find(key); it != cache.end()) {
        std::shared_ptr<const ChainEntry> entry = it->second;
        // The entry holds the anchor and product it was verified for; the
        // product must agree with this call's sources as well.
        auto product = ChooseProduct(requested, from_cpuid, entry->info);
        if (!product) return Fail(product.error());
        return entry;
      }
    }
    if (!parsed) {
      auto cert = Certificate::ParseDer(der);
      if (!cert) return Fail(cert.error().Wrap("endorsement key"));
      parsed = std::move(*cert);
    }
    auto entry = VerifyEndorsementChain(std::move(*parsed), requested, from_cpuid);
    if (!entry) return Fail(entry.error());
    std::lock_guard lock(mutex);
    if (cache.size() >= kMaxCachedChains) cache.clear();
    cache.emplace(key, *entry);
    return *entry;
  }

  Result<std::shared_ptr<const ChainEntry>> VerifyEndorsementChain(Certificate cert, Product requested,
                                                                   Product from_cpuid) const {
    auto info = ParseEndorsementKey(cert);
    if (!info) return Fail(info.error());
    auto product = ChooseProduct(requested, from_cpuid, *info);
    if (!product) return Fail(product.error());
    AnchorState* anchor = FindAnchor(*product);
    if (anchor == nullptr) {
      return Fail(ErrorCode::kUntrustedRoot, "no trust anchor for " + std::string(ProductName(*product)));
    }
    const SigningKey kind = info->kind;
    if (auto s = AnchorStatus(*anchor, kind); !s) return Fail(s.error());
    {
      std::lock_guard lock(mutex);
      ++chain_verifications;
    }
    const Certificate& intermediate = kind == SigningKey::kVlek ? *anchor->asvk : *anchor->ask;
    const std::string ek_name(SigningKeyName(kind));
    const std::string issuer_role = Role(kind);
    // Name first: it tells a VLEK presented where a VCEK belongs (and the
    // reverse) apart from a forged signature.
    if (cert.IssuerCommonName() != intermediate.SubjectCommonName()) {
      return Fail(ErrorCode::kUntrustedRoot, ek_name + " is issued by \"" + cert.IssuerCommonName() + "\", but the " +
                                                 std::string(ProductName(*product)) + " " + issuer_role +
                                                 " that must sign a " + ek_name + " is \"" +
                                                 intermediate.SubjectCommonName() + "\"");
    }
    if (auto s = cert.VerifySignedBy(intermediate); !s) {
      return Fail(s.error().code,
                  ek_name + " is not signed by the " + Describe(intermediate, issuer_role) + ": " + s.error().message);
    }
    EVP_PKEY* key = cert.PublicKey();
    char group[32] = {};
    size_t group_length = 0;
    if (key == nullptr || EVP_PKEY_is_a(key, "EC") != 1 ||
        EVP_PKEY_get_group_name(key, group, sizeof group, &group_length) != 1 ||
        std::string_view(group, group_length) != "secp384r1") {
      crypto::ClearOpensslErrors();
      return Fail(ErrorCode::kCertificateInvalid, ek_name + " public key is not an EC P-384 key");
    }
    return std::make_shared<const ChainEntry>(ChainEntry{.endorsement_key = std::move(cert),
                                                         .info = std::move(*info),
                                                         .product = *product,
                                                         .anchor = anchor,
                                                         .intermediate = &intermediate});
  }

  // Validity of the chain at options.at.
  static Status CheckTime(const ChainEntry& chain, const VerifyOptions& options) {
    const AnchorState& anchor = *chain.anchor;
    const std::string role = Role(chain.info.kind);
    if (auto s = anchor.ark->CheckValidAt(options.at, Describe(*anchor.ark, "ARK")); !s) return s;
    if (auto s = chain.intermediate->CheckValidAt(options.at, Describe(*chain.intermediate, role)); !s) return s;
    return chain.endorsement_key.CheckValidAt(options.at, SigningKeyName(chain.info.kind));
  }

  // The CRL to check against: the caller's (it must be good), else the
  // source's (unusable = not checked, with the reason in `why_not`).
  static Result<std::optional<crypto::Crl>> ObtainCrl(const ChainEntry& chain, const VerifyOptions& options,
                                                      std::string& why_not) {
    const Certificate& ark = *chain.anchor->ark;
    if (options.crl) {
      auto crl = crypto::Crl::Parse(*options.crl);
      if (!crl) return Fail(crl.error().Wrap("CRL"));
      if (auto s = crl->VerifySignedBy(ark); !s) {
        return Fail(s.error().code, "CRL is not issued by the " + Describe(ark, "ARK") + ": " + s.error().message);
      }
      if (auto s = crl->CheckCurrentAt(options.at); !s) return Fail(s.error());
      return std::optional<crypto::Crl>(std::move(*crl));
    }
    if (options.crl_source == nullptr) {
      why_not = "no CRL source is configured";
      return std::optional<crypto::Crl>();
    }
    const std::string side =
        std::string(ProductName(chain.product)) + " " + std::string(SigningKeyName(chain.info.kind));
    auto crl = options.crl_source->CurrentCrl(chain.product, chain.info.kind, ark);
    if (!crl) {
      why_not = "no CRL of the " + Describe(ark, "ARK") + " for " + side + " is available: " + crl.error().message;
      return std::optional<crypto::Crl>();
    }
    // The source promises both; checked again because a wrong CRL here would
    // silently turn revocation off.
    if (auto s = crl->VerifySignedBy(ark); !s) {
      why_not =
          "the CRL obtained for " + side + " is not issued by the " + Describe(ark, "ARK") + ": " + s.error().message;
      return std::optional<crypto::Crl>();
    }
    if (auto s = crl->CheckCurrentAt(options.at); !s) {
      why_not = "the CRL obtained for " + side + " is not current at the verification time: " + s.error().message;
      return std::optional<crypto::Crl>();
    }
    return std::optional<crypto::Crl>(std::move(*crl));
  }

  static Result<RevocationCheck> CheckRevocation(const ChainEntry& chain, const VerifyOptions& options) {
    std::string why_not;
    auto crl = ObtainCrl(chain, options, why_not);
    if (!crl) return Fail(crl.error());
    if (!*crl) return RevocationCheck{.checked = false, .detail = std::move(why_not)};
    const std::string role = Role(chain.info.kind);
    if ((*crl)->IsRevoked(*chain.intermediate)) {
      return Fail(ErrorCode::kCertificateRevoked, "the " + Describe(*chain.intermediate, role) + " (serial " +
                                                      chain.intermediate->SerialHex() + ") is revoked by the CRL");
    }
    // AMD revokes intermediates in the ARK's CRL; a VCEK/VLEK listed there by
    // serial is refused as well, so one CRL can withdraw a single chip.
    if ((*crl)->IsRevoked(chain.endorsement_key)) {
      return Fail(ErrorCode::kCertificateRevoked, "the " + std::string(SigningKeyName(chain.info.kind)) + " (serial " +
                                                      chain.endorsement_key.SerialHex() + ") is revoked by the CRL");
    }
    std::string detail = "CRL of " + (*crl)->IssuerText() + ", thisUpdate " + FormatRfc3339((*crl)->ThisUpdate());
    if (auto next = (*crl)->NextUpdate()) detail += ", nextUpdate " + FormatRfc3339(*next);
    return RevocationCheck{.checked = true, .detail = std::move(detail)};
  }
};

Verifier::Verifier() : Verifier(TrustAnchors::Amd()) {}
Verifier::Verifier(TrustAnchors anchors) : impl_(std::make_unique<Impl>(anchors)) {}
Verifier::~Verifier() = default;

size_t Verifier::chain_verifications() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->chain_verifications;
}

Result<VerifiedReport> Verifier::Verify(ByteView report, ByteView endorsement_key, const VerifyOptions& options) const {
  auto parsed = ParseReport(report);
  if (!parsed) return Fail(parsed.error());
  return VerifyBytes(*parsed, report, endorsement_key, options);
}

Result<VerifiedReport> Verifier::Verify(const Report& report, ByteView endorsement_key,
                                        const VerifyOptions& options) const {
  const Bytes bytes = SerializeReport(report);
  return VerifyBytes(report, bytes, endorsement_key, options);
}

Result<EndorsementKeyInfo> Verifier::VerifyEndorsementKey(ByteView endorsement_key,
                                                          const VerifyOptions& options) const {
  auto chain = impl_->Chain(endorsement_key, options.product, Product::kUnknown);
  if (!chain) return Fail(chain.error());
  if (auto s = Impl::CheckTime(**chain, options); !s) return Fail(s.error());
  if (auto revocation = Impl::CheckRevocation(**chain, options); !revocation) return Fail(revocation.error());
  return (*chain)->info;
}

Result<VerifiedReport> Verifier::VerifyBytes(const Report& report, ByteView signed_bytes, ByteView endorsement_key,
                                             const VerifyOptions& options) const {
  const SigningKey signer = report.Signer().signing_key;
  if (signer != SigningKey::kVcek && signer != SigningKey::kVlek) {
    return Fail(ErrorCode::kSignatureInvalid,
                "report is not signed (SIGNER_INFO.SIGNING_KEY = " + std::to_string(static_cast<int>(signer)) + ")");
  }
  auto chain_result = impl_->Chain(endorsement_key, options.product, report.ProductFromCpuid());
  if (!chain_result) return Fail(chain_result.error());
  const ChainEntry& chain = **chain_result;
  if (auto s = Impl::CheckTime(chain, options); !s) return Fail(s.error());
  if (signer != chain.info.kind) {
    return Fail(ErrorCode::kCertificateInvalid, "report SIGNER_INFO names the " + std::string(SigningKeyName(signer)) +
                                                    " but the endorsement key is a " +
                                                    std::string(SigningKeyName(chain.info.kind)));
  }
  if (auto s = CheckTcb(report, chain); !s) return Fail(s.error());
  if (auto s = CheckChipId(report, chain); !s) return Fail(s.error());
  if (signed_bytes.size() < kSignedRegionSize) return Fail(ErrorCode::kInternal, "report bytes are too short");
  auto signature =
      crypto::VerifyEcdsaLittleEndian(chain.endorsement_key.PublicKey(), crypto::DigestAlgorithm::kSha384,
                                      signed_bytes.first(kSignedRegionSize), report.signature_r, report.signature_s);
  if (!signature) {
    return Fail(ErrorCode::kSignatureInvalid, "report signature does not verify with the " +
                                                  std::string(SigningKeyName(chain.info.kind)) + ": " +
                                                  signature.error().message);
  }
  // Last: it may ask the network (crl_source), which a forged report must
  // not be able to trigger.
  auto revocation = Impl::CheckRevocation(chain, options);
  if (!revocation) return Fail(revocation.error());
  VerifiedReport out;
  out.report_ = report;
  out.product_ = chain.product;
  out.signing_key_ = chain.info.kind;
  out.endorsed_tcb_ = chain.info.tcb;
  out.endorsement_key_ = chain.info;
  out.root_name_ = chain.anchor->root_name;
  out.insecure_root_ = chain.anchor->insecure;
  out.revocation_ = std::move(*revocation);
  return out;
}

}  // namespace contrast::attest::snp
