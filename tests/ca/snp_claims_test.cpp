#include "ca/snp_claims.h"

#include <openssl/asn1.h>

#include <map>
#include <stdexcept>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ca/ca.h"
#include "support/testdata.h"

namespace contrast::ca {
namespace {

using attest::snp::Product;
using ::testing::HasSubstr;

using Asn1TypePtr = crypto::Owned<ASN1_TYPE, ASN1_TYPE_free>;

// One decoded claim value: an INTEGER, a BOOLEAN or an OCTET STRING.
struct Value {
  int type = -1;
  int64_t integer = 0;
  bool boolean = false;
  Bytes octets;
};

Value Decode(const Bytes& der) {
  const unsigned char* cursor = der.data();
  Asn1TypePtr any(d2i_ASN1_TYPE(nullptr, &cursor, static_cast<long>(der.size())));
  if (!any || cursor != der.data() + der.size()) throw std::runtime_error("not one DER value");
  Value out;
  out.type = ASN1_TYPE_get(any.get());
  switch (out.type) {
    case V_ASN1_INTEGER:
      if (ASN1_INTEGER_get_int64(&out.integer, any->value.integer) != 1) throw std::runtime_error("integer");
      break;
    case V_ASN1_BOOLEAN: out.boolean = any->value.boolean != 0; break;
    case V_ASN1_OCTET_STRING: {
      const unsigned char* data = ASN1_STRING_get0_data(any->value.octet_string);
      out.octets.assign(data, data + ASN1_STRING_length(any->value.octet_string));
      break;
    }
    default: throw std::runtime_error("unexpected type " + std::to_string(out.type));
  }
  return out;
}

std::map<int, Value> ByArc(const std::vector<crypto::Extension>& extensions) {
  std::map<int, Value> out;
  const std::string prefix = std::string(kSnpClaimsArc) + ".";
  for (const auto& extension : extensions) {
    if (extension.oid.rfind(prefix, 0) != 0) continue;
    EXPECT_FALSE(extension.critical) << extension.oid;
    out[std::stoi(extension.oid.substr(prefix.size()))] = Decode(extension.value);
  }
  return out;
}

Bytes MustHex(std::string_view hex) {
  auto bytes = HexDecode(hex);
  if (!bytes) throw std::runtime_error("hex");
  return *bytes;
}

int Arc(SnpClaim claim) { return static_cast<int>(claim); }

TEST(SnpClaims, OidsFollowTheUpstreamArc) {
  EXPECT_EQ(SnpClaimOid(SnpClaim::kVersion), "1.3.9901.2.1.1");
  EXPECT_EQ(SnpClaimOid(SnpClaim::kMeasurement), "1.3.9901.2.1.22");
  EXPECT_EQ(SnpClaimOid(SnpClaim::kHostData), "1.3.9901.2.1.23");
  EXPECT_EQ(SnpClaimOid(SnpClaim::kLaunchTcbMicrocode), "1.3.9901.2.1.46");
}

// B2: virtee's Milan report (VECTORS.md): v2, policy 0x30000, platform info
// 0x1, signer VCEK, all four TCBs bl 3 / tee 0 / snp 8 / ucode 115, FW 1.52
// build 4.
TEST(SnpClaims, VirteeMilanReportThroughAMeshCertificate) {
  CONTRAST_REQUIRE_TESTDATA();
  auto report = attest::snp::ParseReport(testing::ReadTestdata("snp/virtee_report_milan.bin"));
  ASSERT_TRUE(report) << report.error().message;
  auto claims = SnpClaimExtensions(*report, Product::kMilan);
  ASSERT_TRUE(claims) << claims.error().message;
  ASSERT_EQ(claims->size(), 46u);

  auto ca = CertificateAuthority::Generate();
  ASSERT_TRUE(ca) << ca.error().message;
  auto workload_key = crypto::PrivateKey::Generate(crypto::KeyType::kEcP384);
  ASSERT_TRUE(workload_key);
  auto issued = ca->IssueMeshCertificate(*workload_key->PublicKeyDer(), std::vector<std::string>{"web"}, *claims);
  ASSERT_TRUE(issued) << issued.error().message;
  auto leaf = crypto::Certificate::ParseDer(issued->der);
  ASSERT_TRUE(leaf);

  // Read back from the certificate, not from the list we passed in.
  std::map<int, Value> values = ByArc(leaf->Extensions());
  ASSERT_EQ(values.size(), 46u);
  for (int arc = 1; arc <= 46; ++arc) EXPECT_TRUE(values.count(arc)) << arc;

  EXPECT_EQ(values[Arc(SnpClaim::kVersion)].integer, 2);
  EXPECT_EQ(values[Arc(SnpClaim::kGuestSvn)].type, V_ASN1_INTEGER);
  EXPECT_EQ(values[Arc(SnpClaim::kPolicyAbiMajor)].integer, 0);
  EXPECT_EQ(values[Arc(SnpClaim::kPolicyAbiMinor)].integer, 0);
  EXPECT_EQ(values[Arc(SnpClaim::kPolicySmt)].type, V_ASN1_BOOLEAN);
  EXPECT_TRUE(values[Arc(SnpClaim::kPolicySmt)].boolean);
  EXPECT_FALSE(values[Arc(SnpClaim::kPolicyDebug)].boolean);
  EXPECT_FALSE(values[Arc(SnpClaim::kPolicyMigrateMa)].boolean);
  EXPECT_FALSE(values[Arc(SnpClaim::kPolicySingleSocket)].boolean);
  EXPECT_EQ(values[Arc(SnpClaim::kVmpl)].integer, 0);
  EXPECT_TRUE(values[Arc(SnpClaim::kPlatformSmtEnabled)].boolean);
  EXPECT_FALSE(values[Arc(SnpClaim::kPlatformTsmeEnabled)].boolean);
  EXPECT_EQ(values[Arc(SnpClaim::kSignerSigningKey)].integer, 0);  // VCEK
  EXPECT_FALSE(values[Arc(SnpClaim::kSignerMaskChipKey)].boolean);

  EXPECT_EQ(
      values[Arc(SnpClaim::kMeasurement)].octets,
      MustHex("7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f"));
  EXPECT_EQ(values[Arc(SnpClaim::kReportData)].octets,
            MustHex("d447b55d197491bfe15cf298f9de9986b7a7c4be2468b4f6e2d53b71d7c645810b0f2cdfca0040433be063fc1a8293f0f"
                    "3f8dae7b79fecb3d1cd82bd6a93ebfd"));
  EXPECT_EQ(values[Arc(SnpClaim::kHostData)].octets, Bytes(32, 0));
  EXPECT_EQ(values[Arc(SnpClaim::kChipId)].octets,
            MustHex("d49554ec717f4e5b0fe6b143bcf0405bd7ae304727edf46603f2a76aef6a3abc15d7af38db757039029f0efacfd08e2"
                    "44324884738c72b082e2f87a44d541eb6"));
  EXPECT_EQ(values[Arc(SnpClaim::kFamilyId)].octets.size(), 16u);
  EXPECT_EQ(values[Arc(SnpClaim::kIdKeyDigest)].octets.size(), 48u);

  for (const SnpClaim bootloader : {SnpClaim::kCurrentTcbBootloader, SnpClaim::kReportedTcbBootloader,
                                    SnpClaim::kCommittedTcbBootloader, SnpClaim::kLaunchTcbBootloader}) {
    const int first = Arc(bootloader);
    SCOPED_TRACE(first);
    EXPECT_EQ(values[first].integer, 3);        // bootloader
    EXPECT_EQ(values[first + 1].integer, 8);    // SNP
    EXPECT_EQ(values[first + 2].integer, 0);    // TEE
    EXPECT_EQ(values[first + 3].integer, 115);  // microcode
  }
  EXPECT_EQ(values[Arc(SnpClaim::kCurrentMajor)].integer, 1);
  EXPECT_EQ(values[Arc(SnpClaim::kCurrentMinor)].integer, 52);
  EXPECT_EQ(values[Arc(SnpClaim::kCurrentBuild)].integer, 4);
}

TEST(SnpClaims, TurinTcbIsDecomposedWithTheTurinLayout) {
  attest::snp::Report report;
  report.version = 3;
  const attest::snp::TcbParts tcb{.fmc = 1, .bootloader = 2, .tee = 3, .snp = 4, .microcode = 5};
  report.current_tcb = attest::snp::EncodeTcb(tcb, Product::kTurin);
  auto claims = SnpClaimExtensions(report, Product::kTurin);
  ASSERT_TRUE(claims) << claims.error().message;
  std::map<int, Value> values = ByArc(*claims);
  EXPECT_EQ(values[Arc(SnpClaim::kCurrentTcbBootloader)].integer, 2);
  EXPECT_EQ(values[Arc(SnpClaim::kCurrentTcbSnp)].integer, 4);
  EXPECT_EQ(values[Arc(SnpClaim::kCurrentTcbTee)].integer, 3);
  EXPECT_EQ(values[Arc(SnpClaim::kCurrentTcbMicrocode)].integer, 5);
}

TEST(SnpClaims, ExtensionsAreInOidOrderAndNonCritical) {
  auto claims = SnpClaimExtensions(attest::snp::Report{});
  ASSERT_TRUE(claims) << claims.error().message;
  ASSERT_EQ(claims->size(), 46u);
  for (size_t i = 0; i < claims->size(); ++i) {
    EXPECT_EQ((*claims)[i].oid, "1.3.9901.2.1." + std::to_string(i + 1));
    EXPECT_FALSE((*claims)[i].critical);
  }
}

}  // namespace
}  // namespace contrast::ca
