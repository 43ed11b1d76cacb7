#include "attest/snp/vcek.h"

#include <gtest/gtest.h>

#include "support/testdata.h"

namespace contrast::attest::snp {
namespace {

using contrast::testing::ReadTestdata;

EndorsementKeyInfo MustParse(const std::string& file) {
  const Bytes bytes = ReadTestdata(file);
  auto cert = crypto::Certificate::ParseAuto(bytes);
  if (!cert) throw std::runtime_error(file + ": " + cert.error().message);
  auto info = ParseEndorsementKey(*cert);
  if (!info) throw std::runtime_error(file + ": " + info.error().message);
  return *info;
}

Bytes ChipId(const std::string& report_file) {
  const Bytes report = ReadTestdata(report_file);
  return Bytes(report.begin() + 0x1A0, report.begin() + 0x1E0);
}

TEST(SnpEndorsementKey, ParsesMilanVceks) {
  CONTRAST_REQUIRE_TESTDATA();
  const EndorsementKeyInfo b1 = MustParse("snp/gosevguest_vcek.der");
  EXPECT_EQ(b1.kind, SigningKey::kVcek);
  EXPECT_EQ(b1.struct_version, 0);
  EXPECT_EQ(b1.product_name, "Milan-B0");
  EXPECT_EQ(b1.product, Product::kMilan);
  EXPECT_EQ(b1.tcb, (TcbParts{.fmc = 0, .bootloader = 2, .tee = 0, .snp = 5, .microcode = 68}));
  ASSERT_TRUE(b1.hwid);
  EXPECT_EQ(HexEncode(*b1.hwid),
            "3ac3fe21e13fb0990eb28a802e3fb6a29483a6b0753590c951bdd3b8e53786184ca39e359669a2b76a1936776b564ea464cdce40c0"
            "5f63c9b610c5068b006b5d");
  EXPECT_FALSE(b1.csp_id);

  const EndorsementKeyInfo b2 = MustParse("snp/virtee_vcek_milan.der");
  EXPECT_EQ(b2.tcb, (TcbParts{.fmc = 0, .bootloader = 3, .tee = 0, .snp = 8, .microcode = 115}));
  EXPECT_EQ(*b2.hwid, ChipId("snp/virtee_report_milan.bin"));

  const EndorsementKeyInfo b3 = MustParse("snp/trustee_test-vcek.der");
  EXPECT_EQ(b3.tcb, (TcbParts{.fmc = 0, .bootloader = 3, .tee = 0, .snp = 8, .microcode = 115}));
  EXPECT_EQ(*b3.hwid, ChipId("snp/trustee_test-report.bin"));
}

TEST(SnpEndorsementKey, ParsesVlekWithTwoByteMicrocode) {
  CONTRAST_REQUIRE_TESTDATA();
  const EndorsementKeyInfo vlek = MustParse("snp/trustee_test-vlek.der");
  EXPECT_EQ(vlek.kind, SigningKey::kVlek);
  EXPECT_EQ(vlek.product_name, "Milan");
  EXPECT_EQ(vlek.tcb, (TcbParts{.fmc = 0, .bootloader = 4, .tee = 0, .snp = 24, .microcode = 217}));
  EXPECT_FALSE(vlek.hwid);
  ASSERT_TRUE(vlek.csp_id);
  EXPECT_EQ(*vlek.csp_id, "CN=cc-us-east-2.amazonaws.com");
}

TEST(SnpEndorsementKey, ParsesGenoaVcekWithoutStepping) {
  CONTRAST_REQUIRE_TESTDATA();
  const EndorsementKeyInfo genoa = MustParse("snp/trustee_azure_genoa_vcek.pem");
  EXPECT_EQ(genoa.product_name, "Genoa");
  EXPECT_EQ(genoa.product, Product::kGenoa);
  EXPECT_EQ(genoa.tcb, (TcbParts{.fmc = 0, .bootloader = 10, .tee = 0, .snp = 23, .microcode = 84}));
  EXPECT_EQ(*genoa.hwid, ChipId("snp/trustee_azure_genoa_report.bin"));
}

TEST(SnpEndorsementKey, ParsesTurinVcek) {
  CONTRAST_REQUIRE_TESTDATA();
  const EndorsementKeyInfo turin = MustParse("snp/virtee_vcek_turin.der");
  EXPECT_EQ(turin.kind, SigningKey::kVcek);
  EXPECT_EQ(turin.struct_version, 1);
  EXPECT_EQ(turin.product_name, "Turin");
  EXPECT_EQ(turin.product, Product::kTurin);
  EXPECT_EQ(turin.tcb, (TcbParts{.fmc = 0, .bootloader = 0, .tee = 0, .snp = 0, .microcode = 9}));
  ASSERT_TRUE(turin.hwid);
  EXPECT_EQ(HexEncode(*turin.hwid), "1e550a8ee5cf9f4d");
}

TEST(SnpEndorsementKey, AcceptsBothHwIdEncodings) {
  CONTRAST_REQUIRE_TESTDATA();
  Bytes expected(64);
  for (size_t i = 0; i < expected.size(); ++i) expected[i] = static_cast<uint8_t>(i);
  // "legacy": raw 64 bytes; "new": the same bytes inside a DER OCTET STRING.
  const std::pair<const char*, TcbParts> cases[] = {
      {"snp/trustee_test-vcek-invalid-legacy.der", {.fmc = 0, .bootloader = 3, .tee = 0, .snp = 10, .microcode = 169}},
      {"snp/trustee_test-vcek-invalid-new.der", {.fmc = 0, .bootloader = 0, .tee = 0, .snp = 0, .microcode = 30}},
  };
  for (const auto& [file, tcb] : cases) {
    const EndorsementKeyInfo info = MustParse(file);
    ASSERT_TRUE(info.hwid) << file;
    EXPECT_EQ(*info.hwid, expected) << file;
    EXPECT_EQ(info.tcb, tcb) << file;
  }
}

TEST(SnpEndorsementKey, SurvivesTruncationAndMutation) {
  CONTRAST_REQUIRE_TESTDATA();
  for (const char* file : {"snp/virtee_vcek_turin.der", "snp/trustee_test-vlek.der"}) {
    const Bytes der = ReadTestdata(file);
    for (size_t length = 0; length < der.size(); ++length) {
      auto info = ParseEndorsementKey(ByteView(der).first(length));
      EXPECT_FALSE(info) << file << " cut to " << length;
    }
    // Every byte changed once: the parser answers (either way) and never crashes.
    size_t accepted = 0;
    for (size_t i = 0; i < der.size(); ++i) {
      Bytes mutated = der;
      mutated[i] ^= 0xFF;
      if (ParseEndorsementKey(mutated)) ++accepted;
    }
    EXPECT_LT(accepted, der.size()) << file;
  }
}

// --- Synthetic certificates for the rules real vectors do not exercise ---

struct Ext {
  std::string oid;
  Bytes value;
};

const std::string kArc = "1.3.6.1.4.1.3704.1.";

Bytes Integer(uint8_t v) { return v < 0x80 ? Bytes{0x02, 0x01, v} : Bytes{0x02, 0x02, 0x00, v}; }
Bytes Ia5(std::string_view s) {
  Bytes out(2 + s.size());
  out[0] = 0x16;
  out[1] = static_cast<uint8_t>(s.size());
  std::copy(s.begin(), s.end(), out.begin() + 2);
  return out;
}

std::vector<Ext> MilanVcekExtensions() {
  return {{kArc + "1", Integer(0)},     {kArc + "2", Ia5("Milan-B0")}, {kArc + "3.1", Integer(3)},
          {kArc + "3.2", Integer(0)},   {kArc + "3.3", Integer(8)},    {kArc + "3.8", Integer(115)},
          {kArc + "4", Bytes(64, 0xAA)}};
}

std::vector<Ext> With(std::vector<Ext> exts, const std::string& oid, std::optional<Bytes> value) {
  std::erase_if(exts, [&](const Ext& e) { return e.oid == kArc + oid; });
  if (value) exts.push_back({kArc + oid, *value});
  return exts;
}

// A self-signed P-384 certificate with the given CN and extensions (DER).
Bytes Build(const std::string& cn, const std::vector<Ext>& exts) {
  static const crypto::EvpPkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"));
  crypto::X509Ptr x(X509_new());
  X509_set_version(x.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), 1);
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(x.get(), name);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), 3600);
  X509_set_pubkey(x.get(), key.get());
  for (const Ext& e : exts) {
    crypto::Asn1ObjectPtr obj(OBJ_txt2obj(e.oid.c_str(), 1));
    crypto::Asn1OctetStringPtr data(ASN1_OCTET_STRING_new());
    ASN1_OCTET_STRING_set(data.get(), e.value.data(), static_cast<int>(e.value.size()));
    crypto::X509ExtensionPtr ext(X509_EXTENSION_create_by_OBJ(nullptr, obj.get(), 0, data.get()));
    X509_add_ext(x.get(), ext.get(), -1);
  }
  X509_sign(x.get(), key.get(), EVP_sha384());
  unsigned char* der = nullptr;
  const int length = i2d_X509(x.get(), &der);
  crypto::OpensslBytesPtr owner(der);
  return Bytes(der, der + length);
}

std::string Rejection(const std::string& cn, const std::vector<Ext>& exts) {
  auto info = ParseEndorsementKey(Build(cn, exts));
  if (info) return "accepted";
  EXPECT_EQ(info.error().code, ErrorCode::kCertificateInvalid);
  return info.error().message;
}

bool Contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(SnpEndorsementKeyRules, SyntheticBaselineParses) {
  auto info = ParseEndorsementKey(Build("SEV-VCEK", MilanVcekExtensions()));
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->tcb.snp, 8);
  // An OCTET STRING-wrapped 64-byte hwID decodes to the same bytes.
  Bytes wrapped{0x04, 0x40};
  wrapped.insert(wrapped.end(), 64, 0xAA);
  auto wrapped_info = ParseEndorsementKey(Build("SEV-VCEK", With(MilanVcekExtensions(), "4", wrapped)));
  ASSERT_TRUE(wrapped_info) << wrapped_info.error().message;
  EXPECT_EQ(*wrapped_info->hwid, Bytes(64, 0xAA));
}

TEST(SnpEndorsementKeyRules, RejectsKindAndShapeErrors) {
  const auto base = MilanVcekExtensions();
  EXPECT_TRUE(Contains(Rejection("SEV-Milan", base), "subject CN"));
  EXPECT_TRUE(Contains(Rejection("SEV-VCEK", With(base, "4", std::nullopt)), "must carry hwID"));
  EXPECT_TRUE(Contains(Rejection("SEV-VLEK", base), "VLEK must not carry hwID"));
  EXPECT_TRUE(Contains(Rejection("SEV-VCEK", With(base, "5", Ia5("CN=csp"))), "VCEK must not carry cspID"));
  EXPECT_TRUE(Contains(Rejection("SEV-VCEK", With(base, "2", std::nullopt)), "productName"));
  EXPECT_TRUE(Contains(Rejection("SEV-VCEK", With(base, "3.8", std::nullopt)), "ucodeSPL"));
  EXPECT_TRUE(Contains(Rejection("SEV-VCEK", With(base, "2", Ia5("Venice"))), "unknown productName"));
  // UTF8String instead of IA5String.
  EXPECT_TRUE(
      Contains(Rejection("SEV-VCEK", With(base, "2", Bytes{0x0C, 0x05, 'M', 'i', 'l', 'a', 'n'})), "IA5String"));
}

TEST(SnpEndorsementKeyRules, RejectsDuplicatesAndBadValues) {
  auto duplicate = MilanVcekExtensions();
  duplicate.push_back({kArc + "3.1", Integer(4)});
  EXPECT_TRUE(Contains(Rejection("SEV-VCEK", duplicate), "more than once"));
  const auto base = MilanVcekExtensions();
  EXPECT_TRUE(Contains(Rejection("SEV-VCEK", With(base, "3.8", Bytes{0x02, 0x02, 0x01, 0x00})), "256"));
  EXPECT_TRUE(Contains(Rejection("SEV-VCEK", With(base, "3.2", Bytes{0x02, 0x01, 0xFF})), "-1"));
  EXPECT_TRUE(Contains(Rejection("SEV-VCEK", With(base, "3.3", Bytes{0x02, 0x01, 0x08, 0x00})), "INTEGER"));
  EXPECT_TRUE(Contains(Rejection("SEV-VCEK", With(base, "3.5", Bytes{0x02, 0x02, 0x01, 0x00})), "spl5"));
  EXPECT_TRUE(Contains(Rejection("SEV-VCEK", With(base, "4", Bytes(32, 0xAA))), "hwID"));
  EXPECT_TRUE(Contains(Rejection("SEV-VCEK", With(base, "4", Bytes{0x04, 0x02, 0xAA, 0xAA})), "hwID"));
  EXPECT_TRUE(Contains(Rejection("SEV-VCEK", With(base, "4", Bytes(8, 0xAA))), "expected 64"));
}

TEST(SnpEndorsementKeyRules, FmcBelongsToTurinOnly) {
  const auto milan = MilanVcekExtensions();
  EXPECT_TRUE(Contains(Rejection("SEV-VCEK", With(milan, "3.9", Integer(0))), "present in a Milan"));
  auto turin = With(With(milan, "2", Ia5("Turin")), "4", Bytes(8, 0x1E));
  EXPECT_TRUE(Contains(Rejection("SEV-VCEK", turin), "missing in a Turin"));
  turin = With(turin, "3.9", Integer(2));
  auto info = ParseEndorsementKey(Build("SEV-VCEK", turin));
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->tcb.fmc, 2);
  EXPECT_TRUE(Contains(Rejection("SEV-VCEK", With(turin, "4", Bytes(64, 0xAA))), "expected 8 for Turin"));
}

}  // namespace
}  // namespace contrast::attest::snp
