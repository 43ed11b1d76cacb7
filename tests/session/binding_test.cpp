#include "session/binding.h"

#include <gtest/gtest.h>

#include "contrast/evidence.pb.h"
#include "session/credentials.h"
#include "session/evidence.h"

namespace contrast::session {
namespace {

Nonce CountingNonce() {
  Nonce nonce{};
  for (size_t i = 0; i < nonce.size(); ++i) nonce[i] = static_cast<uint8_t>(i);
  return nonce;
}

// Known answers computed independently (Python hashlib) for
// SHA-512("contrast-session-v1" || role || 30 03 02 01 00 || 00 01 .. 1f).
TEST(SessionBinding, MatchesIndependentlyComputedDigests) {
  const Bytes spki{0x30, 0x03, 0x02, 0x01, 0x00};
  EXPECT_EQ(HexEncode(SessionReportData(Role::kCoordinator, spki, CountingNonce())),
            "a914e67f28324af087293475e9ec300c7e7b4dc921ff98ffb4defa4dcfdac154"
            "43c925be5aa75fd35b843dd1175e25739efb8781c2e0358c74ada7b5b60f4470");
  EXPECT_EQ(HexEncode(SessionReportData(Role::kWorkload, spki, CountingNonce())),
            "06971b3b83692688bb39544344d9c749c9acbdd6a2c335e2f667a1a19823a237"
            "d68f503597b5c457452e74c99d26227380fdea9805d2b4647dd782089f1abc6f");
}

TEST(SessionBinding, EveryInputChangesTheDigest) {
  const Bytes spki{0x30, 0x03, 0x02, 0x01, 0x00};
  const Bytes other_spki{0x30, 0x03, 0x02, 0x01, 0x01};
  Nonce other_nonce = CountingNonce();
  other_nonce[31] ^= 1;
  const ReportData base = SessionReportData(Role::kWorkload, spki, CountingNonce());
  EXPECT_NE(base, SessionReportData(Role::kCoordinator, spki, CountingNonce()));
  EXPECT_NE(base, SessionReportData(Role::kWorkload, other_spki, CountingNonce()));
  EXPECT_NE(base, SessionReportData(Role::kWorkload, spki, other_nonce));
  EXPECT_EQ(RoleName(Role::kCoordinator), "coordinator");
  EXPECT_EQ(RoleName(Role::kWorkload), "workload");
}

TEST(SessionIdentity, CertificateCarriesTheKeysSpki) {
  auto a = SessionIdentity::Generate();
  auto b = SessionIdentity::Generate();
  ASSERT_TRUE(a) << a.error().message;
  ASSERT_TRUE(b) << b.error().message;
  auto spki = SpkiDerFromCertificatePem(a->certificate_pem());
  ASSERT_TRUE(spki) << spki.error().message;
  EXPECT_EQ(*spki, a->spki_der());
  EXPECT_NE(a->spki_der(), b->spki_der());
  EXPECT_EQ(a->private_key_pem().rfind("-----BEGIN PRIVATE KEY-----", 0), 0u);
  EXPECT_FALSE(SpkiDerFromCertificatePem("not a certificate"));
}

TEST(SessionEvidence, ProtoRoundTripsAndEnforcesLimits) {
  attest::Evidence evidence{std::string(attest::kPlatformInsecureEmulatedSnp), Bytes(0x4A0, 1), Bytes{2, 3}, "chain",
                            Bytes{4}};
  v1::Evidence proto;
  EvidenceToProto(evidence, &proto);
  auto back = EvidenceFromProto(proto);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->platform, evidence.platform);
  EXPECT_EQ(back->report, evidence.report);
  EXPECT_EQ(back->endorsement_key, evidence.endorsement_key);
  EXPECT_EQ(back->cert_chain, evidence.cert_chain);
  EXPECT_EQ(back->crl, evidence.crl);

  v1::Evidence unknown = proto;
  unknown.set_platform(std::string("tdx\n\x01", 5));
  auto rejected = EvidenceFromProto(unknown);
  ASSERT_FALSE(rejected);
  EXPECT_EQ(rejected.error().code, ErrorCode::kParse);
  EXPECT_NE(rejected.error().message.find("\"tdx??\""), std::string::npos) << rejected.error().message;

  v1::Evidence big = proto;
  big.set_report(std::string(attest::kMaxReportSize + 1, 'x'));
  auto too_big = EvidenceFromProto(big);
  ASSERT_FALSE(too_big);
  EXPECT_EQ(too_big.error().code, ErrorCode::kParse);
  EXPECT_NE(too_big.error().message.find("evidence.report"), std::string::npos) << too_big.error().message;
}

TEST(SessionEvidence, AcceptsTheThreePlatformTags) {
  for (std::string_view platform : {attest::kPlatformSnp, attest::kPlatformTdx, attest::kPlatformInsecureEmulatedSnp}) {
    v1::Evidence proto;
    proto.set_platform(std::string(platform));
    proto.set_report("report");
    auto back = EvidenceFromProto(proto);
    ASSERT_TRUE(back) << platform << ": " << back.error().message;
    EXPECT_EQ(back->platform, platform);
  }
  v1::Evidence empty;
  EXPECT_FALSE(EvidenceFromProto(empty));
}

}  // namespace
}  // namespace contrast::session
