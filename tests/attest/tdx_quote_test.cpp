// TDX quote parsing: the real quotes of ../shared/testdata/tdx (VECTORS.md D)
// field by field, and malformed quotes built from them one field at a time.
#include "attest/tdx/quote.h"

#include <gtest/gtest.h>

#include <string>

#include "support/testdata.h"

namespace contrast::attest::tdx {
namespace {

using contrast::testing::ReadTestdata;

const char* const kD1 = "tdx/gotdxguest_tdx_prod_quote_SPR_E4.dat";
const char* const kD2 = "tdx/gotdxguest_quote_v5_sample.dat";

bool Contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

template <size_t N>
std::string Hex(const std::array<uint8_t, N>& a) {
  return HexEncode(a);
}

void PutLe(Bytes& bytes, size_t offset, uint64_t value, size_t width) {
  for (size_t i = 0; i < width; ++i) bytes[offset + i] = static_cast<uint8_t>(value >> (8 * i));
}

class TdxQuote : public ::testing::Test {
 protected:
  void SetUp() override { CONTRAST_REQUIRE_TESTDATA(); }
};

TEST_F(TdxQuote, ParsesV4QuoteD1) {
  const Bytes bytes = ReadTestdata(kD1);
  auto q = ParseQuote(bytes);
  ASSERT_TRUE(q) << q.error().message;
  EXPECT_EQ(q->header.version, 4);
  EXPECT_EQ(q->header.attestation_key_type, 2);
  EXPECT_EQ(q->header.tee_type, 0x81u);
  EXPECT_EQ(q->header.qe_vendor_id, kIntelQeVendorId);
  EXPECT_EQ(q->body_type, kBodyTypeTdReport10);
  const TdReport& t = q->td_report;
  EXPECT_EQ(Hex(t.tee_tcb_svn), "03000400000000000000000000000000");
  EXPECT_EQ(Hex(t.mr_seam),
            "2fd279c16164a93dd5bf373d834328d46008c2b693af9ebb865b08b2ced320c9a89b4869a9fab60fbe9d0c5a5363c656");
  EXPECT_EQ(t.mr_signer_seam, Measurement{});
  EXPECT_EQ(t.seam_attributes_value(), 0u);
  EXPECT_EQ(Hex(t.td_attributes), "0000004000000000");
  EXPECT_EQ(t.td_attributes_value(), kTdAttributePks);
  EXPECT_FALSE(t.debug());
  EXPECT_EQ(Hex(t.xfam), "e71a060000000000");
  EXPECT_EQ(Hex(t.mr_td),
            "6363b8043668a3ad953278e10389574d326c6749fb78aa810ecd9336923db86f22fc00b8dcd404bc10d5e119d7215cbb");
  EXPECT_EQ(t.mr_config_id, Measurement{});
  EXPECT_EQ(t.mr_owner, Measurement{});
  EXPECT_EQ(t.mr_owner_config, Measurement{});
  EXPECT_EQ(Hex(t.rtmrs[0]),
            "2927da70461cd63266f43230cc1849c03ef25ebe490062a801d8fcc80af42976823adf08f833c1e50b51779c6593f32a");
  EXPECT_EQ(Hex(t.rtmrs[1]),
            "2c700b8ba9b85783f8be9fb9443647bdc0bb3c50747f06297cc6538c25a5f589c4b56d035c59107c6bc5800db2cacb61");
  EXPECT_EQ(Hex(t.rtmrs[2]),
            "8652f0caaba7e215ea442dc36a4499d8fec3362f3a0b2ca151cbe4b3e6466fe59c7368b3c2287fc7c3bf5c924eb4424e");
  EXPECT_EQ(t.rtmrs[3], Measurement{});
  EXPECT_EQ(Hex(t.report_data),
            "6c62dec1b8191749a31dab490be532a35944dea47caef1f980863993d9899545eb7406a38d1eed313b987a467dacead6f0c87a"
            "6d766c66f6f29f8acb281f1113");
  EXPECT_FALSE(t.tee_tcb_svn2.has_value());
  EXPECT_FALSE(t.mr_service_td.has_value());

  EXPECT_EQ(q->signed_region, Bytes(bytes.begin(), bytes.begin() + 0x278));
  EXPECT_EQ(q->qe_report.isv_prod_id, 2);
  EXPECT_EQ(q->qe_report.isv_svn, 4);
  EXPECT_EQ(q->qe_report.misc_select, 0u);
  EXPECT_EQ(Hex(q->qe_report.attributes), "1500000000000000e700000000000000");
  EXPECT_EQ(Hex(q->qe_report.mr_signer), "dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5");
  EXPECT_EQ(Bytes(q->qe_report_bytes.begin(), q->qe_report_bytes.end()),
            Bytes(bytes.begin() + 0x302, bytes.begin() + 0x302 + 384));
  ASSERT_EQ(q->qe_auth_data.size(), 32u);
  for (size_t i = 0; i < 32; ++i) EXPECT_EQ(q->qe_auth_data[i], i);
  EXPECT_EQ(q->pck_chain_pem.size(), 3677u);
  EXPECT_TRUE(q->pck_chain_pem.starts_with("-----BEGIN CERTIFICATE-----"));
  // The chain ends at 0x1347; the sample carries 0x27 bytes of text after it
  // ("extra bytes(only for testing purpose)"), which are not part of it.
  EXPECT_EQ(q->size, 0x1347u);
  EXPECT_EQ(bytes.size(), 0x1347u + 0x27u);
}

TEST_F(TdxQuote, ParsesV5QuoteWithTdReport15D2) {
  const Bytes bytes = ReadTestdata(kD2);
  auto q = ParseQuote(bytes);
  ASSERT_TRUE(q) << q.error().message;
  EXPECT_EQ(q->header.version, 5);
  EXPECT_EQ(q->body_type, kBodyTypeTdReport15);
  EXPECT_EQ(q->signed_region.size(), 0x2BEu);
  const TdReport& t = q->td_report;
  EXPECT_EQ(Hex(t.tee_tcb_svn), "0b010400000000000000000000000000");
  ASSERT_TRUE(t.tee_tcb_svn2.has_value());
  EXPECT_EQ(Hex(*t.tee_tcb_svn2), "0d010400000000000000000000000000");
  ASSERT_TRUE(t.mr_service_td.has_value());
  EXPECT_EQ(*t.mr_service_td, Measurement{});
  EXPECT_EQ(t.td_attributes_value(), kTdAttributeSeptVeDisable);
  EXPECT_EQ(Hex(t.xfam), "e702060000000000");
  EXPECT_EQ(Hex(t.mr_seam),
            "7bf063280e94fb051f5dd7b1fc59ce9aac42bb961df8d44b709c9b0ff87a7b4df648657ba6d1189589feab1d5a3c9a9d");
  EXPECT_EQ(Hex(t.mr_td),
            "7348651a34b2d2d3462822e3a750ec6110125f36757c78480bbfc69cc0d21fb001a1ced3ee19747dda8f750c3bc8f876");
  EXPECT_EQ(Bytes(t.report_data.begin(), t.report_data.end()), Bytes(bytes.begin() + 0x23E, bytes.begin() + 0x27E));
  EXPECT_EQ(q->qe_report.isv_svn, 7);
  EXPECT_EQ(Bytes(q->qe_report_bytes.begin(), q->qe_report_bytes.end()),
            Bytes(bytes.begin() + 0x348, bytes.begin() + 0x348 + 384));
}

TEST_F(TdxQuote, ParsesTrusteeQuotes) {
  auto q4 = ParseQuote(ReadTestdata("tdx/trustee_tdx_quote_4.dat"));
  ASSERT_TRUE(q4) << q4.error().message;
  EXPECT_EQ(q4->header.version, 4);
  EXPECT_EQ(Hex(q4->td_report.td_attributes), "0100001000000000");
  EXPECT_TRUE(q4->td_report.debug());  // DEBUG bit 0: visible to validation
  EXPECT_EQ(Hex(q4->td_report.xfam), "e742060000000000");

  // VECTORS.md calls this a v5 quote with a TD 1.0 body; its bytes say body
  // type 3 (TD 1.5, 648 bytes). The parser follows the bytes.
  auto q5 = ParseQuote(ReadTestdata("tdx/trustee_tdx_quote_5.dat"));
  ASSERT_TRUE(q5) << q5.error().message;
  EXPECT_EQ(q5->header.version, 5);
  EXPECT_EQ(q5->body_type, kBodyTypeTdReport15);
  EXPECT_EQ(q5->signed_region.size(), 0x30u + 6 + kTdReport15Size);
  EXPECT_TRUE(q5->td_report.tee_tcb_svn2.has_value());
  EXPECT_EQ(Hex(q5->td_report.tee_tcb_svn), "05010200000000000000000000000000");
  EXPECT_FALSE(q5->td_report.debug());

  auto q6 = ParseQuote(ReadTestdata("tdx/trustee_tdx_quote_6.dat"));
  ASSERT_TRUE(q6) << q6.error().message;
  EXPECT_EQ(Hex(q6->td_report.tee_tcb_svn), "05030200000000000000000000000000");
  EXPECT_EQ(q6->qe_report.isv_svn, 7);
}

// A v5 quote with a TD 1.0 body (type 2): D1's header and body with the v5
// body descriptor in between. The signature no longer matches, but the
// parser must read the same fields.
TEST_F(TdxQuote, ParsesV5QuoteWithTdReport10) {
  const Bytes d1 = ReadTestdata(kD1);
  Bytes v5(d1.begin(), d1.begin() + 0x30);
  v5[0] = 5;
  const uint8_t descriptor[] = {2, 0, 0x48, 0x02, 0, 0};  // type 2, size 584
  v5.insert(v5.end(), std::begin(descriptor), std::end(descriptor));
  v5.insert(v5.end(), d1.begin() + 0x30, d1.end());
  auto q = ParseQuote(v5);
  ASSERT_TRUE(q) << q.error().message;
  auto original = ParseQuote(d1);
  ASSERT_TRUE(original);
  EXPECT_EQ(q->body_type, kBodyTypeTdReport10);
  EXPECT_EQ(q->signed_region.size(), 0x30u + 6 + kTdReport10Size);
  EXPECT_EQ(q->td_report.mr_td, original->td_report.mr_td);
  EXPECT_EQ(q->td_report.report_data, original->td_report.report_data);
  EXPECT_FALSE(q->td_report.tee_tcb_svn2.has_value());
  EXPECT_EQ(q->pck_chain_pem, original->pck_chain_pem);
  EXPECT_EQ(q->size, original->size + 6);
}

TEST_F(TdxQuote, RejectsVersion3NegativeFile) {
  auto q = ParseQuote(ReadTestdata("tdx/negative/gotdxguest_v4_version_byte0_eq3.dat"));
  ASSERT_FALSE(q);
  EXPECT_EQ(q.error().code, ErrorCode::kUnsupported);
  EXPECT_TRUE(Contains(q.error().message, "quote format not supported: version 3")) << q.error().message;
}

TEST_F(TdxQuote, SignedDataSizeMustMatchTheCertificationData) {
  // Both signatures of this file still verify: only the size check sees it.
  auto q = ParseQuote(ReadTestdata("tdx/negative/gotdxguest_v4_signed_data_size_0x278_eq10.dat"));
  ASSERT_FALSE(q);
  EXPECT_EQ(q.error().code, ErrorCode::kParse);
  EXPECT_TRUE(Contains(q.error().message, "certificate data size 0xf8a")) << q.error().message;
  EXPECT_TRUE(Contains(q.error().message, "expected 0x1045")) << q.error().message;
}

struct FieldMutation {
  const char* name;
  size_t offset;
  uint64_t value;
  size_t width;
  ErrorCode code;
  const char* message;
};

TEST_F(TdxQuote, RejectsEachUnsupportedOrInconsistentField) {
  const Bytes d1 = ReadTestdata(kD1);
  const FieldMutation mutations[] = {
      {"version 6", 0x00, 6, 2, ErrorCode::kUnsupported, "version 6"},
      {"key type 3 (P-384)", 0x02, 3, 2, ErrorCode::kUnsupported, "attestation key type 3"},
      {"TEE type SGX", 0x04, 0, 4, ErrorCode::kUnsupported, "TEE type 0x0"},
      {"certification data type 5 outside", 0x27C + 0x80, 5, 2, ErrorCode::kUnsupported, "certification data type 5"},
      {"certification data size + 1", 0x27C + 0x82, 0x1046, 4, ErrorCode::kParse, "certificate data size"},
      {"QE auth data size 33", 0x27C + 0x246, 33, 2, ErrorCode::kUnsupported, "inner certification data type"},
      {"inner type 4", 0x27C + 0x248 + 32, 4, 2, ErrorCode::kUnsupported, "inner certification data type 4"},
      {"inner size - 1", 0x27C + 0x248 + 34, 3676, 4, ErrorCode::kParse, "does not match its contents"},
      {"inner size huge", 0x27C + 0x248 + 34, 0xFFFFFFFF, 4, ErrorCode::kParse, "does not match its contents"},
  };
  for (const FieldMutation& m : mutations) {
    Bytes bytes = d1;
    PutLe(bytes, m.offset, m.value, m.width);
    auto q = ParseQuote(bytes);
    ASSERT_FALSE(q) << m.name;
    EXPECT_EQ(q.error().code, m.code) << m.name << ": " << q.error().message;
    EXPECT_TRUE(Contains(q.error().message, m.message)) << m.name << ": " << q.error().message;
  }
}

TEST_F(TdxQuote, RejectsV5BodyTypesAndSizesThatDisagree) {
  const Bytes d2 = ReadTestdata(kD2);
  Bytes sgx_body = d2;
  PutLe(sgx_body, 0x30, 1, 2);  // SGX enclave report body
  auto q = ParseQuote(sgx_body);
  ASSERT_FALSE(q);
  EXPECT_EQ(q.error().code, ErrorCode::kUnsupported);
  EXPECT_TRUE(Contains(q.error().message, "body type 1")) << q.error().message;

  Bytes wrong_size = d2;
  PutLe(wrong_size, 0x32, kTdReport10Size, 4);  // type 3 with the TD 1.0 size
  q = ParseQuote(wrong_size);
  ASSERT_FALSE(q);
  EXPECT_EQ(q.error().code, ErrorCode::kParse);
  EXPECT_TRUE(Contains(q.error().message, "body size 0x248")) << q.error().message;
}

TEST_F(TdxQuote, EveryTruncationFailsCleanly) {
  for (const char* file : {kD1, kD2}) {
    const Bytes bytes = ReadTestdata(file);
    auto whole = ParseQuote(bytes);
    ASSERT_TRUE(whole);
    for (size_t length = 0; length < whole->size; ++length) {
      auto q = ParseQuote(ByteView(bytes).first(length));
      ASSERT_FALSE(q) << file << " truncated to " << length;
      ASSERT_TRUE(q.error().code == ErrorCode::kParse) << length << ": " << q.error().message;
    }
    // Without the padding it is the same quote.
    auto unpadded = ParseQuote(ByteView(bytes).first(whole->size));
    ASSERT_TRUE(unpadded) << unpadded.error().message;
    EXPECT_EQ(unpadded->pck_chain_pem, whole->pck_chain_pem);
  }
}

}  // namespace
}  // namespace contrast::attest::tdx
