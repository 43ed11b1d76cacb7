// TDX reference values: strict parsing and validation of a TD's measurements
// (values of the real D1 quote, VECTORS.md), one mutated field per case.
#include "attest/tdx/reference_values.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/bytes.h"

namespace contrast::attest::tdx {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr std::string_view kMrTd =
    "6363b8043668a3ad953278e10389574d326c6749fb78aa810ecd9336923db86f22fc00b8dcd404bc10d5e119d7215cbb";
constexpr std::string_view kMrSeam =
    "2fd279c16164a93dd5bf373d834328d46008c2b693af9ebb865b08b2ced320c9a89b4869a9fab60fbe9d0c5a5363c656";
constexpr std::string_view kRtmr0 =
    "2927da70461cd63266f43230cc1849c03ef25ebe490062a801d8fcc80af42976823adf08f833c1e50b51779c6593f32a";
constexpr std::string_view kRtmr1 =
    "2c700b8ba9b85783f8be9fb9443647bdc0bb3c50747f06297cc6538c25a5f589c4b56d035c59107c6bc5800db2cacb61";
constexpr std::string_view kRtmr2 =
    "8652f0caaba7e215ea442dc36a4499d8fec3362f3a0b2ca151cbe4b3e6466fe59c7368b3c2287fc7c3bf5c924eb4424e";
const std::string kRtmr3(96, '0');
constexpr std::string_view kXfam = "e71a060000000000";
// SEPT_VE_DISABLE alone (what a Kata TD runs with).
constexpr std::string_view kSeptVeDisable = "0000001000000000";

template <size_t N>
std::array<uint8_t, N> FromHex(std::string_view hex) {
  auto bytes = HexDecode(hex);
  EXPECT_TRUE(bytes && bytes->size() == N) << hex;
  std::array<uint8_t, N> out{};
  if (bytes && bytes->size() == N) std::copy(bytes->begin(), bytes->end(), out.begin());
  return out;
}

json EntryJson() {
  return {{"Platform", "Metal-QEMU-TDX"},
          {"MinTCBEvaluationDataNumber", 0},
          {"MrTd", kMrTd},
          {"MrSeam", kMrSeam},
          {"Rtmrs", {kRtmr0, kRtmr1, kRtmr2, kRtmr3}},
          {"Xfam", kXfam},
          {"AllowedPIIDs", json::array()},
          {"MemoryIntegrity", false},
          {"SMTDisabled", false},
          {"StaticPlatform", false}};
}

TdxReferenceValues Entry() {
  auto rv = ParseTdxReferenceValues(EntryJson().dump());
  EXPECT_TRUE(rv) << rv.error().message;
  return rv ? *rv : TdxReferenceValues{};
}

PolicyDigest Policy(uint8_t tag) {
  PolicyDigest d{};
  d.fill(0x5a);
  d[0] = tag;
  return d;
}

// The TD the entry describes, launched with policy Policy(1).
TdMeasurements Td() {
  TdMeasurements td;
  td.mrtd = FromHex<48>(kMrTd);
  td.mrseam = FromHex<48>(kMrSeam);
  td.rtmr = {FromHex<48>(kRtmr0), FromHex<48>(kRtmr1), FromHex<48>(kRtmr2), FromHex<48>(kRtmr3)};
  td.xfam = FromHex<8>(kXfam);
  td.td_attributes = FromHex<8>(kSeptVeDisable);
  const PolicyDigest policy = Policy(1);
  std::copy(policy.begin(), policy.end(), td.mrconfigid.begin());
  td.report_data.fill(0x42);
  td.tee_tcb_svn = FromHex<16>("03000400000000000000000000000000");
  return td;
}

const std::vector<PolicyDigest> kAllowed = {Policy(0), Policy(1)};

std::vector<std::string> Fields(const TdxValidationResult& result) {
  std::vector<std::string> out;
  for (const TdxMismatch& m : result.mismatches) out.push_back(m.field);
  return out;
}

// --- Parsing ----------------------------------------------------------------

TEST(TdxReferenceValuesJson, ParsesUpstreamEntryAndRoundTrips) {
  const TdxReferenceValues rv = Entry();
  EXPECT_EQ(rv.platform, "Metal-QEMU-TDX");
  EXPECT_EQ(HexEncode(rv.mr_td), kMrTd);
  EXPECT_EQ(HexEncode(rv.mr_seam), kMrSeam);
  EXPECT_EQ(HexEncode(rv.rtmrs[0]), kRtmr0);
  EXPECT_EQ(HexEncode(rv.rtmrs[3]), kRtmr3);
  EXPECT_EQ(HexEncode(rv.xfam), kXfam);
  EXPECT_FALSE(rv.td_attributes);
  EXPECT_EQ(TdxReferenceValuesToJson(rv), EntryJson());
  auto again = ParseTdxReferenceValues(TdxReferenceValuesToJson(rv).dump());
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(*again, rv);
}

TEST(TdxReferenceValuesJson, EveryFieldRoundTrips) {
  json entry = EntryJson();
  entry["MinTCBEvaluationDataNumber"] = 17;
  entry["AllowedPIIDs"] = {std::string(32, 'a'), std::string(32, 'B')};
  entry["MemoryIntegrity"] = true;
  entry["SMTDisabled"] = true;
  entry["StaticPlatform"] = true;
  entry["CPUs"] = 8;
  entry["MinimumQeSvn"] = 4;
  entry["MinimumPceSvn"] = 65535;
  entry["MinimumTeeTcbSvn"] = "03000400000000000000000000000000";
  entry["TdAttributes"] = "0000001000000000";
  auto rv = ParseTdxReferenceValues(entry.dump());
  ASSERT_TRUE(rv) << rv.error().message;
  EXPECT_EQ(rv->allowed_piids.size(), 2u);
  EXPECT_EQ(rv->minimum_pce_svn, 65535);
  json written = TdxReferenceValuesToJson(*rv);
  entry["AllowedPIIDs"][1] = std::string(32, 'b');  // written in lower case
  EXPECT_EQ(written, entry);
  EXPECT_EQ(*ParseTdxReferenceValues(written.dump()), *rv);
}

TEST(TdxReferenceValuesJson, OlderRtrmsSpellingIsRead) {
  json entry = EntryJson();
  entry["Rtrms"] = entry["Rtmrs"];
  entry.erase("Rtmrs");
  auto rv = ParseTdxReferenceValues(entry.dump());
  ASSERT_TRUE(rv) << rv.error().message;
  EXPECT_EQ(*rv, Entry());
  entry["Rtrms"][0] = "00";
  auto bad = ParseTdxReferenceValues(entry.dump());
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "ReferenceValues.tdx[0].Rtrms[0]: expected 48 bytes of hex, got 1");
}

TEST(TdxReferenceValuesJson, EveryProblemWithItsPath) {
  json entry = EntryJson();
  entry.erase("MrTd");
  entry.erase("Xfam");
  entry["MrSeam"] = 1;
  entry["Rtmrs"] = "x";
  entry["MinTCBEvaluationDataNumber"] = -1;
  entry["AllowedPIIDs"] = {"00"};
  entry["MinimumQeSvn"] = 70000;
  entry["Platform"] = false;
  entry["Extra"] = true;
  auto rv = ParseTdxReferenceValues(entry.dump(), "tdx[3]");
  ASSERT_FALSE(rv);
  EXPECT_EQ(rv.error().code, ErrorCode::kParse);
  EXPECT_EQ(rv.error().message,
            "tdx[3].Extra: unknown field\n"
            "tdx[3].Platform: expected a string, got false\n"
            "tdx[3].MinTCBEvaluationDataNumber: out of range (0..4294967295), got -1\n"
            "tdx[3].MrTd: missing\n"
            "tdx[3].MrSeam: expected 48 bytes of hex, got number 1\n"
            "tdx[3].Rtmrs: expected an array of 4 hex strings (RTMR0..3), got string \"x\"\n"
            "tdx[3].Xfam: missing\n"
            "tdx[3].AllowedPIIDs[0]: expected 16 bytes of hex, got 1\n"
            "tdx[3].MinimumQeSvn: out of range (0..65535), got 70000");
}

TEST(TdxReferenceValuesJson, DebugTdAttributesAreRefused) {
  json entry = EntryJson();
  entry["TdAttributes"] = "0100001000000000";
  auto rv = ParseTdxReferenceValues(entry.dump());
  ASSERT_FALSE(rv);
  EXPECT_THAT(rv.error().message, HasSubstr("TdAttributes: DEBUG (bit 0) must be clear"));
}

TEST(TdxReferenceValuesJson, HostileText) {
  EXPECT_THAT(ParseTdxReferenceValues("{").error().message, HasSubstr("invalid JSON"));
  EXPECT_THAT(ParseTdxReferenceValues("[]").error().message, HasSubstr("expected an object, got array"));
  EXPECT_THAT(ParseTdxReferenceValues(std::string(100000, '[')).error().message, HasSubstr("nested deeper"));
  const std::string dup = R"({"MrTd": "00", "MrTd": ")" + std::string(kMrTd) + "\"}";
  EXPECT_THAT(ParseTdxReferenceValues(dup).error().message, HasSubstr("duplicate key \"MrTd\""));
  json many = EntryJson();
  for (int i = 0; i < 300; ++i) many["k" + std::to_string(i)] = 1;
  auto rv = ParseTdxReferenceValues(many.dump());
  ASSERT_FALSE(rv);
  EXPECT_THAT(rv.error().message, HasSubstr("(200 more problems not shown)"));
}

// --- Validation -------------------------------------------------------------

TEST(TdxValidate, MatchingTdIsAccepted) {
  const auto result = Validate(Entry(), Td(), kAllowed);
  EXPECT_TRUE(result.ok()) << result.Message();
  EXPECT_TRUE(result.ToStatus());
}

TEST(TdxValidate, EveryMeasurementMismatchIsReported) {
  TdMeasurements td = Td();
  td.mrtd[0] ^= 1;
  td.rtmr[0][1] ^= 1;
  td.rtmr[3][47] ^= 1;
  td.mrseam[5] ^= 1;
  td.xfam[0] ^= 1;
  const auto result = Validate(Entry(), td, kAllowed);
  EXPECT_THAT(Fields(result), ElementsAre("MRTD", "RTMR0", "RTMR3", "MRSEAM", "XFAM"));
  EXPECT_EQ(result.mismatches[0].code, ErrorCode::kMeasurementMismatch);
  EXPECT_EQ(result.mismatches[0].expected, kMrTd);
  EXPECT_EQ(result.mismatches[0].actual, HexEncode(td.mrtd));
  EXPECT_EQ(result.ToStatus().error().code, ErrorCode::kValidationFailed);  // codes differ
  EXPECT_THAT(result.Message(), HasSubstr("MRTD: expected " + std::string(kMrTd) + ", got "));
}

TEST(TdxValidate, DebugIsNeverAllowedWhateverTheEntrySays) {
  TdMeasurements td = Td();
  td.td_attributes[0] |= 0x01;
  // Even an entry built in code (bypassing the parser) that asks for DEBUG.
  TdxReferenceValues rv = Entry();
  rv.td_attributes = td.td_attributes;
  const auto result = Validate(rv, td, kAllowed);
  EXPECT_THAT(Fields(result), ElementsAre("TDATTRIBUTES.DEBUG"));
  EXPECT_EQ(result.ToStatus().error().code, ErrorCode::kPolicyViolation);
  const TdxReferenceValues entries[] = {rv};
  const auto any = ValidateAgainstAny(entries, td, kAllowed);
  EXPECT_FALSE(any.ok());
  EXPECT_FALSE(any.matched_entry);
  EXPECT_THAT(Fields(ValidateBaseline(td)), ElementsAre("TDATTRIBUTES.DEBUG"));
  EXPECT_THAT(Fields(ValidateBaseline(Td())), IsEmpty());
}

TEST(TdxValidate, TdAttributesDefaultToSeptVeDisableAlone) {
  TdMeasurements td = Td();
  td.td_attributes = FromHex<8>("0000005000000000");  // + PKS (bit 30)
  EXPECT_THAT(Fields(Validate(Entry(), td, kAllowed)), ElementsAre("TDATTRIBUTES"));
  TdxReferenceValues rv = Entry();
  rv.td_attributes = td.td_attributes;
  EXPECT_TRUE(Validate(rv, td, kAllowed).ok());
  EXPECT_THAT(Fields(Validate(rv, Td(), kAllowed)), ElementsAre("TDATTRIBUTES"));
}

TEST(TdxValidate, MrConfigIdMustBeAnAllowedPolicyDigestZeroPadded) {
  TdMeasurements td = Td();
  EXPECT_TRUE(Validate(Entry(), td, kAllowed).ok());
  const std::vector<PolicyDigest> other = {Policy(7)};
  auto result = Validate(Entry(), td, other);
  ASSERT_THAT(Fields(result), ElementsAre("MRCONFIGID"));
  EXPECT_EQ(result.mismatches[0].code, ErrorCode::kPolicyViolation);
  EXPECT_THAT(result.mismatches[0].expected, HasSubstr(HexEncode(Policy(7))));
  EXPECT_THAT(Fields(Validate(Entry(), td, {})), ElementsAre("MRCONFIGID"));
  // The right digest but not zero-padded: Kata never launches that.
  td.mrconfigid[40] = 1;
  EXPECT_THAT(Fields(Validate(Entry(), td, kAllowed)), ElementsAre("MRCONFIGID"));
  EXPECT_FALSE(PolicyDigestFromMrConfigId(td.mrconfigid));
  EXPECT_EQ(PolicyDigestFromMrConfigId(Td().mrconfigid), Policy(1));
}

TEST(TdxValidate, ReportDataWhenExpected) {
  TdxValidateOptions options;
  options.expected_report_data.emplace();
  options.expected_report_data->fill(0x42);
  EXPECT_TRUE(Validate(Entry(), Td(), kAllowed, options).ok());
  (*options.expected_report_data)[63] = 0;
  EXPECT_THAT(Fields(Validate(Entry(), Td(), kAllowed, options)), ElementsAre("REPORTDATA"));
}

TEST(TdxValidate, MinimumsAndPckRequirementsFailClosed) {
  TdxReferenceValues rv = Entry();
  rv.min_tcb_evaluation_data_number = 16;
  rv.minimum_qe_svn = 4;
  rv.minimum_pce_svn = 11;
  rv.minimum_tee_tcb_svn = FromHex<16>("03000500000000000000000000000000");
  rv.allowed_piids = {FromHex<16>(std::string(32, 'a'))};
  rv.memory_integrity = true;
  rv.smt_disabled = true;
  rv.static_platform = true;
  // The verifier said nothing about them: every one fails.
  TdMeasurements td = Td();
  EXPECT_THAT(Fields(Validate(rv, td, kAllowed)),
              ElementsAre("TCB_EVALUATION_DATA_NUMBER", "QE_SVN", "PCE_SVN", "TEE_TCB_SVN", "PCK.PlatformInstanceID",
                          "PCK.MemoryIntegrity", "PCK.SMTEnabled", "PCK.DynamicPlatform"));
  td.tcb_evaluation_data_number = 16;
  td.qe_svn = 4;
  td.pce_svn = 11;
  td.tee_tcb_svn = FromHex<16>("03000500000000000000000000000000");
  td.platform_instance_id = FromHex<16>(std::string(32, 'a'));
  td.memory_integrity = true;
  td.smt_enabled = false;
  td.dynamic_platform = false;
  EXPECT_TRUE(Validate(rv, td, kAllowed).ok()) << Validate(rv, td, kAllowed).Message();
  td.tcb_evaluation_data_number = 15;
  td.pce_svn = 10;
  td.tee_tcb_svn[2] = 4;
  td.platform_instance_id->at(0) = 0;
  td.smt_enabled = true;
  const auto result = Validate(rv, td, kAllowed);
  EXPECT_THAT(Fields(result), ElementsAre("TCB_EVALUATION_DATA_NUMBER", "PCE_SVN", "TEE_TCB_SVN",
                                          "PCK.PlatformInstanceID", "PCK.SMTEnabled"));
  EXPECT_EQ(result.mismatches[0].code, ErrorCode::kTcbTooLow);
}

TEST(TdxValidate, AgainstAnyNamesTheMatchingEntryOrEveryMismatch) {
  TdxReferenceValues other = Entry();
  other.mr_td[0] ^= 0xff;
  const TdxReferenceValues entries[] = {other, Entry()};
  auto result = ValidateAgainstAny(entries, Td(), kAllowed);
  EXPECT_TRUE(result.ok()) << result.Message();
  EXPECT_EQ(result.matched_entry, 1u);
  TdMeasurements td = Td();
  td.rtmr[2][0] ^= 1;
  result = ValidateAgainstAny(entries, td, kAllowed);
  ASSERT_THAT(result.mismatches, SizeIs(3));
  EXPECT_EQ(result.mismatches[0].Message().rfind("ReferenceValues.tdx[0]: MRTD: expected ", 0), 0u);
  EXPECT_EQ(result.mismatches[1].entry, 0u);
  EXPECT_EQ(result.mismatches[2].entry, 1u);
  EXPECT_EQ(result.mismatches[2].field, "RTMR2");
  EXPECT_THAT(Fields(ValidateAgainstAny({}, Td(), kAllowed)), ElementsAre("ReferenceValues.tdx"));
}

}  // namespace
}  // namespace contrast::attest::tdx
