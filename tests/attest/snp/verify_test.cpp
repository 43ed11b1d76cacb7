#include "attest/snp/verify.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <thread>

#include "crypto/openssl.h"
#include "crypto/x509.h"
#include "support/testdata.h"

namespace contrast::attest::snp {
namespace {

using contrast::testing::ReadTestdata;

TimePoint At(std::string_view rfc3339) { return *ParseRfc3339(rfc3339); }

// Inside the validity of every real endorsement key (the VLEK expires 2025-12-10).
const TimePoint kInside = At("2025-06-01T00:00:00Z");
const TimePoint kToday = At("2026-11-28T00:00:00Z");

VerifyOptions Options(Product product = Product::kUnknown, TimePoint at = kInside) {
  VerifyOptions options;
  options.product = product;
  options.at = at;
  return options;
}

bool Contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

struct Vector {
  const char* report;
  const char* key;
  Product product;
  SigningKey kind;
};

const Vector kRealVectors[] = {
    {"snp/gosevguest_attestation.bin", "snp/gosevguest_vcek.der", Product::kMilan, SigningKey::kVcek},
    {"snp/virtee_report_milan.bin", "snp/virtee_vcek_milan.der", Product::kMilan, SigningKey::kVcek},
    {"snp/trustee_test-report.bin", "snp/trustee_test-vcek.der", Product::kMilan, SigningKey::kVcek},
    {"snp/trustee_test-vlek-report.bin", "snp/trustee_test-vlek.der", Product::kMilan, SigningKey::kVlek},
    {"snp/trustee_azure_genoa_report.bin", "snp/trustee_azure_genoa_vcek.pem", Product::kGenoa, SigningKey::kVcek},
};

class SnpVerify : public ::testing::Test {
 protected:
  void SetUp() override { CONTRAST_REQUIRE_TESTDATA(); }

  Error Rejection(const std::string& report, const std::string& key, const VerifyOptions& options) {
    return Rejection(verifier_, report, key, options);
  }
  static Error Rejection(const Verifier& verifier, const std::string& report, const std::string& key,
                         const VerifyOptions& options) {
    auto result = verifier.Verify(ReadTestdata(report), ReadTestdata(key), options);
    if (result) return Error{ErrorCode::kInternal, "accepted"};
    return result.error();
  }

  Verifier verifier_;
};

TEST_F(SnpVerify, EveryRealReportVerifiesWithItsProductRoot) {
  for (const Vector& v : kRealVectors) {
    for (const Product requested : {Product::kUnknown, v.product}) {
      const Bytes report_bytes = ReadTestdata(v.report);
      auto verified = verifier_.Verify(report_bytes, ReadTestdata(v.key), Options(requested));
      ASSERT_TRUE(verified) << v.report << ": " << verified.error().message;
      EXPECT_EQ(verified->product(), v.product) << v.report;
      EXPECT_EQ(verified->signing_key(), v.kind) << v.report;
      EXPECT_EQ(verified->endorsed_tcb(), DecodeTcb(verified->report().reported_tcb, v.product)) << v.report;
      EXPECT_EQ(verified->endorsement_key().kind, v.kind);
      EXPECT_EQ(verified->root_name(), "AMD ARK-" + std::string(ProductName(v.product)));
      EXPECT_FALSE(verified->insecure_root());
      EXPECT_EQ(SerializeReport(verified->report()), report_bytes);
    }
  }
}

TEST_F(SnpVerify, ParsedReportOverloadVerifiesToo) {
  auto report = ParseReport(ReadTestdata("snp/trustee_test-report.bin"));
  ASSERT_TRUE(report);
  auto verified = verifier_.Verify(*report, ReadTestdata("snp/trustee_test-vcek.der"), Options());
  ASSERT_TRUE(verified) << verified.error().message;
  EXPECT_EQ(verified->report().guest_svn, 4u);
}

TEST_F(SnpVerify, GenoaReportFailsWithMilanRoots) {
  const std::string report = "snp/trustee_azure_genoa_report.bin";
  const std::string vcek = "snp/trustee_azure_genoa_vcek.pem";
  const Error requested = Rejection(report, vcek, Options(Product::kMilan));
  EXPECT_EQ(requested.code, ErrorCode::kProductMismatch);
  EXPECT_TRUE(Contains(requested.message, "requested Milan")) << requested.message;
  EXPECT_TRUE(Contains(requested.message, "report CPUID Genoa")) << requested.message;

  // Milan's (genuine) roots installed where Genoa's belong.
  const ProductAnchors& milan = *TrustAnchors::Amd().Find(Product::kMilan);
  TrustAnchors swapped{{ProductAnchors{Product::kGenoa, milan.ark_der, milan.ask_der, milan.asvk_der, false}}};
  const Error pinned = Rejection(Verifier(swapped), report, vcek, Options());
  EXPECT_EQ(pinned.code, ErrorCode::kUntrustedRoot);
  EXPECT_TRUE(Contains(pinned.message, "not the pinned ARK-Genoa")) << pinned.message;
  swapped.products[0].insecure = true;
  const Error chained = Rejection(Verifier(swapped), report, vcek, Options());
  EXPECT_EQ(chained.code, ErrorCode::kUntrustedRoot);
  EXPECT_TRUE(Contains(chained.message, "SEV-Genoa")) << chained.message;

  TrustAnchors milan_only{{milan}};
  const Error absent = Rejection(Verifier(milan_only), report, vcek, Options());
  EXPECT_EQ(absent.code, ErrorCode::kUntrustedRoot);
  EXPECT_TRUE(Contains(absent.message, "no trust anchor for Genoa")) << absent.message;
}

TEST_F(SnpVerify, NegativeFilesFailForTheirSpecificReason) {
  struct Case {
    const char* report;
    const char* key;
    ErrorCode code;
    const char* detail;
  };
  const Case cases[] = {
      {"snp/negative/virtee_report_milan_byte21_xor80.bin", "snp/virtee_vcek_milan.der", ErrorCode::kSignatureInvalid,
       "report signature"},
      {"snp/negative/trustee_report_byte42_plus1.bin", "snp/trustee_test-vcek.der", ErrorCode::kSignatureInvalid,
       "report signature"},
      {"snp/negative/trustee_report_byte0x180_plus1_reportedtcb.bin", "snp/trustee_test-vcek.der",
       ErrorCode::kTcbMismatch, "bootloader: VCEK 3, report 4"},
      {"snp/virtee_report_milan.bin", "snp/negative/virtee_vcek_milan_byte40_xorff.der", ErrorCode::kSignatureInvalid,
       "VCEK is not signed by the ASK"},
      {"snp/trustee_test-report.bin", "snp/negative/trustee_vcek_byte42_plus1.der", ErrorCode::kSignatureInvalid,
       "VCEK is not signed by the ASK"},
  };
  for (const Case& c : cases) {
    const Error error = Rejection(c.report, c.key, Options());
    EXPECT_EQ(error.code, c.code) << c.report << " + " << c.key << ": " << error.message;
    EXPECT_TRUE(Contains(error.message, c.detail)) << error.message;
  }
}

TEST_F(SnpVerify, MismatchedReportAndVcek) {
  // B1's VCEK was issued for another TCB than B2's report.
  const Error tcb = Rejection("snp/virtee_report_milan.bin", "snp/gosevguest_vcek.der", Options());
  EXPECT_EQ(tcb.code, ErrorCode::kTcbMismatch);
  EXPECT_TRUE(Contains(tcb.message, "microcode: VCEK 68, report 115")) << tcb.message;
  // B2 and B3 share the TCB but not the chip.
  const Error chip = Rejection("snp/virtee_report_milan.bin", "snp/trustee_test-vcek.der", Options());
  EXPECT_EQ(chip.code, ErrorCode::kChipIdMismatch);
  EXPECT_TRUE(Contains(chip.message, "d49554ec")) << chip.message;
  EXPECT_EQ(Rejection("snp/trustee_test-report.bin", "snp/virtee_vcek_milan.der", Options()).code,
            ErrorCode::kChipIdMismatch);
  // A VLEK-signed report with a VCEK.
  const Error kind = Rejection("snp/trustee_test-vlek-report.bin", "snp/virtee_vcek_milan.der", Options());
  EXPECT_EQ(kind.code, ErrorCode::kCertificateInvalid);
  EXPECT_TRUE(Contains(kind.message, "names the VLEK")) << kind.message;
}

TEST_F(SnpVerify, ExpiredVlekIsRejectedToday) {
  const Error error =
      Rejection("snp/trustee_test-vlek-report.bin", "snp/trustee_test-vlek.der", Options(Product::kUnknown, kToday));
  EXPECT_EQ(error.code, ErrorCode::kCertificateExpired);
  EXPECT_TRUE(Contains(error.message, "VLEK is expired")) << error.message;
  EXPECT_TRUE(Contains(error.message, "2025-12-10")) << error.message;
}

TEST_F(SnpVerify, VlekMustChainToTheAsvkAndVcekToTheAsk) {
  const ProductAnchors& milan = *TrustAnchors::Amd().Find(Product::kMilan);
  // The ASK sits where the ASVK belongs (and the other way round).
  const Verifier ask_for_vlek(TrustAnchors{{{Product::kMilan, milan.ark_der, milan.ask_der, milan.ask_der, true}}});
  const Error vlek =
      Rejection(ask_for_vlek, "snp/trustee_test-vlek-report.bin", "snp/trustee_test-vlek.der", Options());
  EXPECT_EQ(vlek.code, ErrorCode::kUntrustedRoot);
  EXPECT_TRUE(Contains(vlek.message, "issued by \"SEV-VLEK-Milan\"")) << vlek.message;
  EXPECT_TRUE(Contains(vlek.message, "ASVK")) << vlek.message;

  const Verifier asvk_for_vcek(TrustAnchors{{{Product::kMilan, milan.ark_der, milan.asvk_der, milan.asvk_der, true}}});
  const Error vcek = Rejection(asvk_for_vcek, "snp/virtee_report_milan.bin", "snp/virtee_vcek_milan.der", Options());
  EXPECT_EQ(vcek.code, ErrorCode::kUntrustedRoot);
  EXPECT_TRUE(Contains(vcek.message, "issued by \"SEV-Milan\"")) << vcek.message;

  // Without the insecure flag, a swapped intermediate is not AMD's pinned one.
  const Verifier not_pinned(TrustAnchors{{{Product::kMilan, milan.ark_der, milan.ask_der, milan.ask_der, false}}});
  const Error pinned =
      Rejection(not_pinned, "snp/trustee_test-vlek-report.bin", "snp/trustee_test-vlek.der", Options());
  EXPECT_EQ(pinned.code, ErrorCode::kUntrustedRoot);
  EXPECT_TRUE(Contains(pinned.message, "ASVK is not the pinned")) << pinned.message;
}

TEST_F(SnpVerify, NonAmdAnchorsMarkTheResultInsecure) {
  const ProductAnchors& milan = *TrustAnchors::Amd().Find(Product::kMilan);
  ProductAnchors copy = milan;
  copy.insecure = true;
  const Verifier verifier(TrustAnchors{{copy}});
  auto verified = verifier.Verify(ReadTestdata("snp/virtee_report_milan.bin"),
                                  ReadTestdata("snp/virtee_vcek_milan.der"), Options());
  ASSERT_TRUE(verified) << verified.error().message;
  EXPECT_TRUE(verified->insecure_root());
  EXPECT_EQ(verified->root_name(), "non-AMD root ARK-Milan");
}

TEST_F(SnpVerify, TurinVcekChainsToTurinOnly) {
  const Bytes turin = ReadTestdata("snp/virtee_vcek_turin.der");
  auto info = verifier_.VerifyEndorsementKey(turin, Options());
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->product, Product::kTurin);
  EXPECT_EQ(info->tcb.microcode, 9);
  EXPECT_EQ(HexEncode(*info->hwid), "1e550a8ee5cf9f4d");

  auto as_milan = verifier_.VerifyEndorsementKey(turin, Options(Product::kMilan));
  ASSERT_FALSE(as_milan);
  EXPECT_EQ(as_milan.error().code, ErrorCode::kProductMismatch);

  const ProductAnchors& milan = *TrustAnchors::Amd().Find(Product::kMilan);
  const Verifier milan_roots(TrustAnchors{{{Product::kTurin, milan.ark_der, milan.ask_der, milan.asvk_der, true}}});
  auto under_milan = milan_roots.VerifyEndorsementKey(turin, Options());
  ASSERT_FALSE(under_milan);
  EXPECT_EQ(under_milan.error().code, ErrorCode::kUntrustedRoot);
}

TEST_F(SnpVerify, EditedVceksFailWithASignatureError) {
  for (const char* file : {"snp/trustee_test-vcek-invalid-legacy.der", "snp/trustee_test-vcek-invalid-new.der"}) {
    auto result = verifier_.VerifyEndorsementKey(ReadTestdata(file), Options());
    ASSERT_FALSE(result) << file;
    EXPECT_EQ(result.error().code, ErrorCode::kSignatureInvalid) << file << ": " << result.error().message;
  }
}

TEST_F(SnpVerify, UnsignedReportIsRejected) {
  Bytes report = ReadTestdata("snp/virtee_report_milan.bin");
  report[0x48] = 7 << 2;  // SIGNING_KEY = 7: no key
  ASSERT_TRUE(ParseReport(report));
  auto result = verifier_.Verify(report, ReadTestdata("snp/virtee_vcek_milan.der"), Options());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kSignatureInvalid);
  EXPECT_TRUE(Contains(result.error().message, "not signed"));
}

TEST_F(SnpVerify, GarbageEndorsementKeyIsRejected) {
  const Bytes report = ReadTestdata("snp/virtee_report_milan.bin");
  for (const Bytes& key : {Bytes{}, Bytes(500, 0x30), ReadTestdata("snp/ark_milan.pem")}) {
    auto result = verifier_.Verify(report, key, Options());
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().code, ErrorCode::kCertificateInvalid) << result.error().message;
  }
}

// Which failures a one-byte change at `offset` of a report may cause: the
// report parser or the signature, except where the byte is bound to the
// endorsement key first (signer, product, TCB, chip id).
std::set<ErrorCode> AllowedCodes(size_t offset) {
  std::set<ErrorCode> codes{ErrorCode::kParse, ErrorCode::kSignatureInvalid};
  if (offset >= 0x48 && offset < 0x4C) codes.insert(ErrorCode::kCertificateInvalid);  // SIGNER_INFO
  if (offset >= 0x180 && offset < 0x188) codes.insert(ErrorCode::kTcbMismatch);       // REPORTED_TCB
  if (offset >= 0x188 && offset < 0x18B) codes.insert(ErrorCode::kProductMismatch);   // CPUID (v3+)
  if (offset >= 0x1A0 && offset < 0x1E0) codes.insert(ErrorCode::kChipIdMismatch);    // CHIP_ID
  return codes;
}

TEST_F(SnpVerify, EverySignedByteMatters) {
  for (const Vector& v : {kRealVectors[1], kRealVectors[4]}) {
    const Verifier verifier;
    const Bytes original = ReadTestdata(v.report);
    const Bytes key = ReadTestdata(v.key);
    ASSERT_TRUE(verifier.Verify(original, key, Options()));
    for (size_t offset = 0; offset < kSignedRegionSize; ++offset) {
      for (const uint8_t flip : {uint8_t{0x01}, uint8_t{0x80}}) {
        Bytes mutated = original;
        mutated[offset] ^= flip;
        auto result = verifier.Verify(mutated, key, Options());
        ASSERT_FALSE(result) << v.report << " offset " << offset << " ^ " << int{flip};
        EXPECT_TRUE(AllowedCodes(offset).count(result.error().code))
            << v.report << " offset " << offset << ": " << result.error().message;
      }
    }
    // 1344 reports, one chain verification.
    EXPECT_EQ(verifier.chain_verifications(), 1u) << v.report;
  }
}

TEST_F(SnpVerify, ChainIsVerifiedOncePerEndorsementKey) {
  const Verifier verifier;
  const Bytes vlek = ReadTestdata("snp/trustee_test-vlek.der");
  const Bytes vlek_report = ReadTestdata("snp/trustee_test-vlek-report.bin");
  ASSERT_TRUE(verifier.Verify(vlek_report, vlek, Options()));
  ASSERT_TRUE(verifier.Verify(vlek_report, vlek, Options()));
  EXPECT_EQ(verifier.chain_verifications(), 1u);
  // The time is checked on every call, cached chain or not.
  auto later = verifier.Verify(vlek_report, vlek, Options(Product::kUnknown, kToday));
  ASSERT_FALSE(later);
  EXPECT_EQ(later.error().code, ErrorCode::kCertificateExpired);
  // The product too.
  auto genoa = verifier.Verify(vlek_report, vlek, Options(Product::kGenoa));
  ASSERT_FALSE(genoa);
  EXPECT_EQ(genoa.error().code, ErrorCode::kProductMismatch);
  EXPECT_EQ(verifier.chain_verifications(), 1u);

  // PEM and DER of one certificate share the entry.
  const Bytes pem = ReadTestdata("snp/trustee_azure_genoa_vcek.pem");
  auto der = crypto::Certificate::ParsePem(AsChars(pem));
  ASSERT_TRUE(der);
  const Bytes genoa_report = ReadTestdata("snp/trustee_azure_genoa_report.bin");
  ASSERT_TRUE(verifier.Verify(genoa_report, pem, Options()));
  ASSERT_TRUE(verifier.Verify(genoa_report, der->Der(), Options()));
  EXPECT_EQ(verifier.chain_verifications(), 2u);
  // A VerifyEndorsementKey call shares the cache as well.
  ASSERT_TRUE(verifier.VerifyEndorsementKey(vlek, Options()));
  EXPECT_EQ(verifier.chain_verifications(), 2u);
}

TEST_F(SnpVerify, ConcurrentVerification) {
  const Verifier verifier;
  std::vector<std::pair<Bytes, Bytes>> inputs;
  for (const Vector& v : kRealVectors) inputs.emplace_back(ReadTestdata(v.report), ReadTestdata(v.key));
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int round = 0; round < 10; ++round) {
        for (const auto& [report, key] : inputs) {
          if (!verifier.Verify(report, key, Options())) ++failures;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GE(verifier.chain_verifications(), inputs.size());
}

// --- CRLs -------------------------------------------------------------------
//
// AMD's ARK key is not available, so revocation through Verify is exercised
// with a synthetic ARK -> ASK -> VCEK hierarchy (non-AMD, insecure anchors)
// and a Milan report re-signed with the synthetic VCEK key.

constexpr time_t kNow = 1748736000;  // 2025-06-01T00:00:00Z
constexpr time_t kDay = 86400;

crypto::EvpPkeyPtr NewP384() { return crypto::EvpPkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384")); }

crypto::X509NamePtr AmdName(const std::string& cn) {
  crypto::X509NamePtr name(X509_NAME_new());
  X509_NAME_add_entry_by_txt(name.get(), "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("Advanced Micro Devices"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name.get(), "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                             0);
  return name;
}

Bytes Der(X509* x) {
  unsigned char* der = nullptr;
  const int length = i2d_X509(x, &der);
  crypto::OpensslBytesPtr owner(der);
  return Bytes(der, der + length);
}

crypto::X509Ptr MakeCert(const std::string& cn, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key, long serial,
                         const std::vector<std::pair<std::string, Bytes>>& extensions = {}) {
  crypto::X509Ptr x(X509_new());
  X509_set_version(x.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), serial);
  X509_set_subject_name(x.get(), AmdName(cn).get());
  X509_set_issuer_name(x.get(), issuer != nullptr ? X509_get_subject_name(issuer) : X509_get_subject_name(x.get()));
  ASN1_TIME_set(X509_getm_notBefore(x.get()), kNow - 365 * kDay);
  ASN1_TIME_set(X509_getm_notAfter(x.get()), kNow + 365 * kDay);
  X509_set_pubkey(x.get(), key);
  for (const auto& [oid, value] : extensions) {
    crypto::Asn1ObjectPtr obj(OBJ_txt2obj(oid.c_str(), 1));
    crypto::Asn1OctetStringPtr data(ASN1_OCTET_STRING_new());
    ASN1_OCTET_STRING_set(data.get(), value.data(), static_cast<int>(value.size()));
    crypto::X509ExtensionPtr ext(X509_EXTENSION_create_by_OBJ(nullptr, obj.get(), 0, data.get()));
    X509_add_ext(x.get(), ext.get(), -1);
  }
  X509_sign(x.get(), issuer_key, EVP_sha384());
  return x;
}

Bytes MakeCrl(X509* issuer, EVP_PKEY* key, const std::vector<long>& revoked, time_t next_update) {
  crypto::X509CrlPtr crl(X509_CRL_new());
  X509_CRL_set_version(crl.get(), 1);
  X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(issuer));
  crypto::Asn1TimePtr this_time(ASN1_TIME_set(nullptr, kNow - kDay));
  crypto::Asn1TimePtr next_time(ASN1_TIME_set(nullptr, next_update));
  X509_CRL_set1_lastUpdate(crl.get(), this_time.get());
  X509_CRL_set1_nextUpdate(crl.get(), next_time.get());
  for (long serial : revoked) {
    X509_REVOKED* entry = X509_REVOKED_new();
    crypto::Asn1IntegerPtr number(ASN1_INTEGER_new());
    ASN1_INTEGER_set(number.get(), serial);
    X509_REVOKED_set_serialNumber(entry, number.get());
    X509_REVOKED_set_revocationDate(entry, this_time.get());
    X509_CRL_add0_revoked(crl.get(), entry);
  }
  X509_CRL_sign(crl.get(), key, EVP_sha384());
  unsigned char* der = nullptr;
  const int length = i2d_X509_CRL(crl.get(), &der);
  crypto::OpensslBytesPtr owner(der);
  return Bytes(der, der + length);
}

// Signs the first 0x2A0 bytes of `report` with `key` into its signature fields.
void Resign(Bytes& report, EVP_PKEY* key) {
  crypto::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  ASSERT_EQ(EVP_DigestSignInit_ex(ctx.get(), nullptr, "SHA384", nullptr, nullptr, key, nullptr), 1);
  size_t length = 0;
  ASSERT_EQ(EVP_DigestSign(ctx.get(), nullptr, &length, report.data(), kSignedRegionSize), 1);
  Bytes der(length);
  ASSERT_EQ(EVP_DigestSign(ctx.get(), der.data(), &length, report.data(), kSignedRegionSize), 1);
  const unsigned char* p = der.data();
  crypto::EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(length)));
  ASSERT_TRUE(sig);
  std::fill(report.begin() + 0x2A0, report.end(), 0);
  ASSERT_EQ(BN_bn2lebinpad(ECDSA_SIG_get0_r(sig.get()), report.data() + 0x2A0, 72), 72);
  ASSERT_EQ(BN_bn2lebinpad(ECDSA_SIG_get0_s(sig.get()), report.data() + 0x2E8, 72), 72);
}

class SnpVerifyCrl : public SnpVerify {
 protected:
  void SetUp() override {
    SnpVerify::SetUp();
    if (IsSkipped()) return;
    report_ = ReadTestdata("snp/virtee_report_milan.bin");
    const std::string arc = "1.3.6.1.4.1.3704.1.";
    const Bytes chip_id(report_.begin() + 0x1A0, report_.begin() + 0x1E0);
    vcek_ = MakeCert("SEV-VCEK", vcek_key_.get(), ask_.get(), ask_key_.get(), 3,
                     {{arc + "1", {0x02, 0x01, 0x00}},
                      {arc + "2", {0x16, 0x05, 'M', 'i', 'l', 'a', 'n'}},
                      {arc + "3.1", {0x02, 0x01, 3}},
                      {arc + "3.2", {0x02, 0x01, 0}},
                      {arc + "3.3", {0x02, 0x01, 8}},
                      {arc + "3.8", {0x02, 0x01, 115}},
                      {arc + "4", chip_id}});
    Resign(report_, vcek_key_.get());
  }

  Verifier TestVerifier() {
    return Verifier(TrustAnchors{{{Product::kMilan, Der(ark_.get()), Der(ask_.get()), {}, true}}});
  }

  VerifyOptions WithCrl(Bytes crl) {
    VerifyOptions options = Options(Product::kUnknown, TimePoint(std::chrono::seconds(kNow)));
    options.crl = std::move(crl);
    return options;
  }

  crypto::EvpPkeyPtr ark_key_ = NewP384();
  crypto::EvpPkeyPtr ask_key_ = NewP384();
  crypto::EvpPkeyPtr vcek_key_ = NewP384();
  crypto::X509Ptr ark_ = MakeCert("ARK-Milan", ark_key_.get(), nullptr, ark_key_.get(), 1);
  crypto::X509Ptr ask_ = MakeCert("SEV-Milan", ask_key_.get(), ark_.get(), ark_key_.get(), 2);
  crypto::X509Ptr vcek_;
  Bytes report_;
};

TEST_F(SnpVerifyCrl, SyntheticHierarchyVerifiesAsInsecure) {
  const Verifier verifier = TestVerifier();
  auto verified =
      verifier.Verify(report_, Der(vcek_.get()), Options(Product::kUnknown, TimePoint(std::chrono::seconds(kNow))));
  ASSERT_TRUE(verified) << verified.error().message;
  EXPECT_TRUE(verified->insecure_root());
  // The synthetic VCEK is no AMD certificate.
  EXPECT_FALSE(verifier_.Verify(report_, Der(vcek_.get()), Options()));
}

TEST_F(SnpVerifyCrl, CurrentCrlWithoutTheAskPasses) {
  const Verifier verifier = TestVerifier();
  auto verified =
      verifier.Verify(report_, Der(vcek_.get()), WithCrl(MakeCrl(ark_.get(), ark_key_.get(), {99}, kNow + 30 * kDay)));
  EXPECT_TRUE(verified) << verified.error().message;
}

TEST_F(SnpVerifyCrl, RevokedAskIsRejected) {
  const Verifier verifier = TestVerifier();
  auto result =
      verifier.Verify(report_, Der(vcek_.get()), WithCrl(MakeCrl(ark_.get(), ark_key_.get(), {2}, kNow + 30 * kDay)));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kCertificateRevoked);
  EXPECT_TRUE(Contains(result.error().message, "SEV-Milan")) << result.error().message;
}

TEST_F(SnpVerifyCrl, StaleCrlIsRejected) {
  const Verifier verifier = TestVerifier();
  auto result =
      verifier.Verify(report_, Der(vcek_.get()), WithCrl(MakeCrl(ark_.get(), ark_key_.get(), {}, kNow - kDay / 2)));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kCertificateExpired);
  EXPECT_TRUE(Contains(result.error().message, "CRL")) << result.error().message;
}

TEST_F(SnpVerifyCrl, CrlNotSignedByTheArkIsRejected) {
  const Verifier verifier = TestVerifier();
  // Same issuer name, other key.
  crypto::EvpPkeyPtr other_key = NewP384();
  crypto::X509Ptr impostor = MakeCert("ARK-Milan", other_key.get(), nullptr, other_key.get(), 1);
  auto forged = verifier.Verify(report_, Der(vcek_.get()),
                                WithCrl(MakeCrl(impostor.get(), other_key.get(), {}, kNow + 30 * kDay)));
  ASSERT_FALSE(forged);
  EXPECT_EQ(forged.error().code, ErrorCode::kSignatureInvalid);
  // Signed by the ASK instead of the ARK.
  auto by_ask =
      verifier.Verify(report_, Der(vcek_.get()), WithCrl(MakeCrl(ask_.get(), ask_key_.get(), {}, kNow + 30 * kDay)));
  ASSERT_FALSE(by_ask);
  EXPECT_EQ(by_ask.error().code, ErrorCode::kUntrustedRoot);
  // Garbage.
  auto garbage = verifier.Verify(report_, Der(vcek_.get()), WithCrl(Bytes(40, 0x30)));
  ASSERT_FALSE(garbage);
  EXPECT_EQ(garbage.error().code, ErrorCode::kCertificateInvalid);
}

TEST_F(SnpVerify, CrlNotSignedByTheAmdArkIsRejected) {
  crypto::EvpPkeyPtr key = NewP384();
  crypto::X509Ptr fake_ark = MakeCert("ARK-Milan", key.get(), nullptr, key.get(), 1);
  VerifyOptions options = Options();
  options.crl = MakeCrl(fake_ark.get(), key.get(), {}, kNow + 30 * kDay);
  const Error error = Rejection("snp/virtee_report_milan.bin", "snp/virtee_vcek_milan.der", options);
  // The synthetic name lacks AMD's OU/C/L/ST, so it is rejected by name first.
  EXPECT_EQ(error.code, ErrorCode::kUntrustedRoot) << error.message;
  EXPECT_TRUE(Contains(error.message, "CRL is not issued by the ARK")) << error.message;

  // AMD's exact ARK name, signed with another key.
  auto amd_ark = crypto::Certificate::ParseDer(TrustAnchors::Amd().Find(Product::kMilan)->ark_der);
  ASSERT_TRUE(amd_ark);
  options.crl = MakeCrl(amd_ark->get(), key.get(), {}, kNow + 30 * kDay);
  const Error forged = Rejection("snp/virtee_report_milan.bin", "snp/virtee_vcek_milan.der", options);
  EXPECT_EQ(forged.code, ErrorCode::kSignatureInvalid) << forged.message;
  EXPECT_TRUE(Contains(forged.message, "CRL")) << forged.message;
}

}  // namespace
}  // namespace contrast::attest::snp
