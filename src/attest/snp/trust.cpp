#include "attest/snp/trust.h"

#include <cstdio>
#include <cstdlib>

#include "crypto/hash.h"
#include "crypto/x509.h"

namespace contrast::attest::snp {
namespace {

#include "attest/snp/amd_roots.inc"

struct Embedded {
  Product product;
  std::string_view role;
  std::string_view pem;
  std::string_view sha256_hex;
  std::string_view source_url;
};

constexpr std::string_view kMilanVcekChain = "https://kdsintf.amd.com/vcek/v1/Milan/cert_chain";
constexpr std::string_view kMilanVlekChain = "https://kdsintf.amd.com/vlek/v1/Milan/cert_chain";
constexpr std::string_view kGenoaVcekChain = "https://kdsintf.amd.com/vcek/v1/Genoa/cert_chain";
constexpr std::string_view kGenoaVlekChain = "https://kdsintf.amd.com/vlek/v1/Genoa/cert_chain";
constexpr std::string_view kTurinVcekChain = "https://kdsintf.amd.com/vcek/v1/Turin/cert_chain";
constexpr std::string_view kTurinVlekChain = "https://kdsintf.amd.com/vlek/v1/Turin/cert_chain";

// SHA-256 of the DER encoding of each embedded certificate.
constexpr Embedded kEmbedded[] = {
    {Product::kMilan, "ARK", kPemArkMilan, "69d063b45344d26a2e94e1f4210de49ef555308287d4c174445c95639a540bcd",
     kMilanVcekChain},
    {Product::kMilan, "ASK", kPemAskMilan, "67d303bd3905fd38db8b20e0793699870e7fa612eaad5dec358293fd8c0bac1b",
     kMilanVcekChain},
    {Product::kMilan, "ASVK", kPemAsvkMilan, "c5e081f59b7efab1fe2f8b505e159704e72f29cab7ef7cf628a05a42439082f5",
     kMilanVlekChain},
    {Product::kGenoa, "ARK", kPemArkGenoa, "4c6598d19c18719c5dfd4a7d335f674e5bfe1d8f800cea2cf270c10d103db2f1",
     kGenoaVcekChain},
    {Product::kGenoa, "ASK", kPemAskGenoa, "5464738c1546aed5f2cecf1dc98c5c960a92e8913238a61711bc90ec6e828521",
     kGenoaVcekChain},
    {Product::kGenoa, "ASVK", kPemAsvkGenoa, "197e610743a917d6b9bb982a5a9226ccc0a15b611be0619e626aca9151457372",
     kGenoaVlekChain},
    {Product::kTurin, "ARK", kPemArkTurin, "1f084161a44bb6d93778a904877d4819cafa5d05ef4193b2ded9dd9c73dd3f6a",
     kTurinVcekChain},
    {Product::kTurin, "ASK", kPemAskTurin, "5b77ef5fe7a7a004fd9032668fba9d0fda22f88c4442069a479636a6ae3b3185",
     kTurinVcekChain},
    {Product::kTurin, "ASVK", kPemAsvkTurin, "104e10a8bd060a3c20a434261a57d0588fd65a88915b4f65b08bdecaf8df1a3c",
     kTurinVlekChain},
};

[[noreturn]] void BuildDefect(const Embedded& e, const std::string& what) {
  std::fprintf(stderr, "contrast: embedded AMD %s for %s is broken: %s\n", std::string(e.role).c_str(),
               std::string(ProductName(e.product)).c_str(), what.c_str());
  std::abort();
}

Bytes PinnedDer(const Embedded& e) {
  auto cert = crypto::Certificate::ParsePem(e.pem);
  if (!cert) BuildDefect(e, cert.error().message);
  Bytes der = cert->Der();
  const std::string digest = HexEncode(crypto::Sha256(der));
  if (digest != e.sha256_hex)
    BuildDefect(e, "SHA-256 " + digest + " differs from the pin " + std::string(e.sha256_hex));
  return der;
}

TrustAnchors BuildAmdAnchors() {
  TrustAnchors anchors;
  for (const Product product : {Product::kMilan, Product::kGenoa, Product::kTurin}) {
    ProductAnchors p;
    p.product = product;
    for (const Embedded& e : kEmbedded) {
      if (e.product != product) continue;
      Bytes der = PinnedDer(e);
      if (e.role == "ARK") p.ark_der = std::move(der);
      if (e.role == "ASK") p.ask_der = std::move(der);
      if (e.role == "ASVK") p.asvk_der = std::move(der);
    }
    anchors.products.push_back(std::move(p));
  }
  return anchors;
}

tl::unexpected<Error> ChainError(ErrorCode code, std::string_view product, const std::string& message) {
  return Fail(code, "AMD certificate chain for " + std::string(product) + ": " + message);
}

}  // namespace

const TrustAnchors& TrustAnchors::Amd() {
  static const TrustAnchors anchors = BuildAmdAnchors();
  return anchors;
}

const ProductAnchors* TrustAnchors::Find(Product product) const {
  for (const ProductAnchors& p : products) {
    if (p.product == product) return &p;
  }
  return nullptr;
}

const std::vector<PinnedCertificate>& PinnedAmdCertificates() {
  static const std::vector<PinnedCertificate> pins = [] {
    std::vector<PinnedCertificate> out;
    for (const Embedded& e : kEmbedded) out.push_back({e.product, e.role, e.sha256_hex, e.source_url});
    return out;
  }();
  return pins;
}

bool IsPinnedAmdCertificate(Product product, std::string_view role, ByteView der) {
  const std::string digest = HexEncode(crypto::Sha256(der));
  for (const Embedded& e : kEmbedded) {
    if (e.product == product && e.role == role && e.sha256_hex == digest) return true;
  }
  return false;
}

std::string ArkCommonName(Product product) { return "ARK-" + std::string(ProductName(product)); }

std::string IntermediateCommonName(Product product, SigningKey kind) {
  return (kind == SigningKey::kVlek ? "SEV-VLEK-" : "SEV-") + std::string(ProductName(product));
}

Status VerifyAmdCertChain(std::string_view pem, Product product, SigningKey kind, TimePoint at,
                          const TrustAnchors& anchors) {
  const std::string_view name = ProductName(product);
  if (kind != SigningKey::kVcek && kind != SigningKey::kVlek) {
    return Fail(ErrorCode::kInvalidArgument, "certificate chains exist for VCEKs and VLEKs only");
  }
  const ProductAnchors* anchor = anchors.Find(product);
  if (anchor == nullptr || anchor->ark_der.empty()) {
    return ChainError(ErrorCode::kUntrustedRoot, name, "no trust anchor for this product");
  }
  auto chain = crypto::Certificate::ParsePemChain(pem);
  if (!chain) return ChainError(chain.error().code, name, chain.error().message);
  if (chain->size() != 2) {
    return ChainError(ErrorCode::kCertificateInvalid, name,
                      "expected 2 certificates (intermediate, then ARK), got " + std::to_string(chain->size()));
  }
  const crypto::Certificate& intermediate = (*chain)[0];
  const crypto::Certificate& ark = (*chain)[1];
  if (ark.Der() != anchor->ark_der) {
    return ChainError(ErrorCode::kUntrustedRoot, name,
                      "the ARK (\"" + ark.SubjectCommonName() + "\", SHA-256 " + HexEncode(ark.Sha256Fingerprint()) +
                          ") is not the pinned ARK");
  }
  const std::string role = kind == SigningKey::kVlek ? "ASVK" : "ASK";
  const std::string expected_cn = IntermediateCommonName(product, kind);
  if (!anchor->insecure && intermediate.SubjectCommonName() != expected_cn) {
    return ChainError(ErrorCode::kUntrustedRoot, name,
                      "the intermediate is \"" + intermediate.SubjectCommonName() + "\", expected the " + role + " \"" +
                          expected_cn + "\"");
  }
  if (auto s = intermediate.VerifySignedBy(ark); !s) {
    return ChainError(s.error().code, name, "the " + role + " is not signed by the ARK: " + s.error().message);
  }
  if (auto s = ark.CheckValidAt(at, "ARK"); !s) return ChainError(s.error().code, name, s.error().message);
  if (auto s = intermediate.CheckValidAt(at, role); !s) return ChainError(s.error().code, name, s.error().message);
  return {};
}

}  // namespace contrast::attest::snp
