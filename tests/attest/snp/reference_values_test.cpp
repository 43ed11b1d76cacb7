#include "attest/snp/reference_values.h"

#include <algorithm>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace contrast::attest::snp {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// B2 (virtee Milan report) values, in upstream's manifest shape.
constexpr std::string_view kMilanMeasurement =
    "7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f";
constexpr std::string_view kMilanChipId =
    "d49554ec717f4e5b0fe6b143bcf0405bd7ae304727edf46603f2a76aef6a3abc15d7af38db757039029f0efacfd08e244324884738c72b08"
    "2e2f87a44d541eb6";

nlohmann::json MilanEntry() {
  return nlohmann::json::parse(R"({
    "Platform": "Metal-QEMU-SNP",
    "ProductName": "Milan",
    "TrustedMeasurement": ")" + std::string(kMilanMeasurement) +
                               R"(",
    "MinimumTCB": {"BootloaderVersion": 3, "TEEVersion": 0, "SNPVersion": 8, "MicrocodeVersion": 115},
    "GuestPolicy": {"ABIMinor": 0, "ABIMajor": 0, "SMT": true, "MigrateMA": false, "Debug": false,
                    "SingleSocket": false, "CXLAllowed": false, "MemAES256XTS": false, "RAPLDis": false,
                    "CipherTextHidingDRAM": false, "PageSwapDisable": false},
    "PlatformInfo": {"SMTEnabled": true, "TSMEEnabled": false, "ECCEnabled": false, "RAPLDisabled": false,
                     "CiphertextHidingDRAMEnabled": false, "AliasCheckComplete": false},
    "MinimumMitigationVector": 0,
    "AllowedChipIDs": [")" + std::string(kMilanChipId) +
                               R"("]
  })");
}

std::string ErrorOf(const Result<ReferenceValues>& result) { return result ? "" : result.error().message; }

// Parses {"snp": [entry]} and returns the error message ("" on success).
std::string ErrorForEntry(const nlohmann::json& entry) {
  return ErrorOf(ParseReferenceValues(nlohmann::json{{"snp", {entry}}}.dump()));
}

TEST(SnpReferenceValues, ParsesUpstreamEntry) {
  auto rv = ParseReferenceValues(nlohmann::json{{"snp", {MilanEntry()}}}.dump());
  ASSERT_TRUE(rv) << rv.error().message;
  ASSERT_EQ(rv->snp.size(), 1u);
  EXPECT_TRUE(rv->tdx.empty());
  const SnpReferenceValues& e = rv->snp[0];
  EXPECT_EQ(e.platform, "Metal-QEMU-SNP");
  EXPECT_EQ(e.product, Product::kMilan);
  EXPECT_EQ(HexEncode(e.trusted_measurement), kMilanMeasurement);
  EXPECT_EQ(e.minimum_tcb, (TcbParts{.fmc = 0, .bootloader = 3, .tee = 0, .snp = 8, .microcode = 115}));
  EXPECT_EQ(e.guest_policy, (GuestPolicy{.smt = true}));
  EXPECT_EQ(e.platform_info, (PlatformInfo{.smt_enabled = true}));
  EXPECT_EQ(e.minimum_mitigation_vector, 0u);
  ASSERT_EQ(e.allowed_chip_ids.size(), 1u);
  EXPECT_EQ(HexEncode(e.allowed_chip_ids[0]), kMilanChipId);
  // Defaults of our additions.
  EXPECT_FALSE(e.trusted_host_data);
  EXPECT_TRUE(e.trusted_id_key_digests.empty());
  EXPECT_EQ(e.minimum_report_version, 0u);
  EXPECT_EQ(e.required_vmpl, 0u);
  EXPECT_TRUE(e.permit_provisional_firmware);
  EXPECT_FALSE(e.allow_missing_revocation_check);
}

TEST(SnpReferenceValues, ParsesOurAdditions) {
  nlohmann::json entry = MilanEntry();
  entry["TrustedHostData"] = std::string(64, 'a');
  entry["TrustedIDKeyDigests"] = {std::string(96, 'b'), std::string(96, 'C')};
  entry["MinimumReportVersion"] = 3;
  entry["RequiredVMPL"] = 2;
  entry["PermitProvisionalFirmware"] = false;
  entry["AllowMissingRevocationCheck"] = true;
  entry["MinimumMitigationVector"] = 18446744073709551615ull;
  auto rv = ParseReferenceValues(nlohmann::json::array({entry}).dump());
  ASSERT_TRUE(rv) << rv.error().message;
  const SnpReferenceValues& e = rv->snp.at(0);
  ASSERT_TRUE(e.trusted_host_data);
  EXPECT_EQ(HexEncode(*e.trusted_host_data), std::string(64, 'a'));
  ASSERT_EQ(e.trusted_id_key_digests.size(), 2u);
  EXPECT_EQ(HexEncode(e.trusted_id_key_digests[1]), std::string(96, 'c'));  // upper case accepted
  EXPECT_EQ(e.minimum_report_version, 3u);
  EXPECT_EQ(e.required_vmpl, 2u);
  EXPECT_FALSE(e.permit_provisional_firmware);
  EXPECT_TRUE(e.allow_missing_revocation_check);
  EXPECT_EQ(e.minimum_mitigation_vector, UINT64_MAX);
}

TEST(SnpReferenceValues, AcceptsEveryInputForm) {
  const nlohmann::json entry = MilanEntry();
  const nlohmann::json tdx = {{"Platform", "Metal-QEMU-TDX"}, {"MrTd", "00"}};
  const nlohmann::json reference_values = {{"snp", {entry, entry}}, {"tdx", {tdx}}};
  const nlohmann::json manifest = {{"Policies", nlohmann::json::object()},
                                   {"ReferenceValues", reference_values},
                                   {"WorkloadOwnerKeyDigests", nlohmann::json::array()}};

  auto from_object = ParseReferenceValues(reference_values.dump());
  ASSERT_TRUE(from_object) << from_object.error().message;
  EXPECT_EQ(from_object->snp.size(), 2u);
  ASSERT_EQ(from_object->tdx.size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(from_object->tdx[0]), tdx);  // kept verbatim, not validated

  auto from_manifest = ParseReferenceValues(manifest.dump(2));
  ASSERT_TRUE(from_manifest) << from_manifest.error().message;
  EXPECT_EQ(from_manifest->snp.size(), 2u);
  EXPECT_EQ(from_manifest->tdx.size(), 1u);

  auto from_array = ParseReferenceValues(nlohmann::json::array({entry}).dump());
  ASSERT_TRUE(from_array) << from_array.error().message;
  EXPECT_EQ(from_array->snp.size(), 1u);

  auto from_entry = ParseReferenceValues(entry.dump());
  ASSERT_TRUE(from_entry) << from_entry.error().message;
  ASSERT_EQ(from_entry->snp.size(), 1u);
  EXPECT_EQ(from_entry->snp[0].product, Product::kMilan);

  auto from_json = ReferenceValuesFromJson(manifest);
  ASSERT_TRUE(from_json) << from_json.error().message;
  EXPECT_EQ(from_json->snp.size(), 2u);

  auto only_tdx = ParseReferenceValues(R"({"snp": null, "tdx": [{}]})");
  ASSERT_TRUE(only_tdx) << only_tdx.error().message;
  EXPECT_TRUE(only_tdx->snp.empty());
  EXPECT_EQ(only_tdx->tdx.size(), 1u);
}

TEST(SnpReferenceValues, ReportsEveryProblemAtOnceWithPaths) {
  nlohmann::json first = MilanEntry();
  first["MinimumTCB"].erase("SNPVersion");
  first["MinimumTCB"]["TEEVersion"] = nullptr;  // Go writes a nil *uint8 as null: still missing
  first["MinimumTCB"]["MicrocodeVersion"] = 256;
  first["GuestPolicy"]["SMT"] = "yes";
  first["Colour"] = "blue";
  nlohmann::json second = MilanEntry();
  second["TrustedMeasurement"] = std::string(94, '0');
  second["ProductName"] = "Rome";
  second["AllowedChipIDs"] = {std::string(128, 'f'), "xyz", 5};
  second["PlatformInfo"]["TIOEnabled"] = 1;
  second["MinimumMitigationVector"] = -1;
  second.erase("MinimumTCB");

  auto rv = ParseReferenceValues(nlohmann::json{{"snp", {first, second}}}.dump());
  ASSERT_FALSE(rv);
  EXPECT_EQ(rv.error().code, ErrorCode::kParse);
  const std::string expected[] = {
      "ReferenceValues.snp[0].Colour: unknown field",
      "ReferenceValues.snp[0].MinimumTCB.TEEVersion: missing",
      "ReferenceValues.snp[0].MinimumTCB.SNPVersion: missing",
      "ReferenceValues.snp[0].MinimumTCB.MicrocodeVersion: out of range (0..255), got 256",
      "ReferenceValues.snp[0].GuestPolicy.SMT: expected true or false, got string",
      "ReferenceValues.snp[1].ProductName: expected \"Milan\", \"Genoa\" or \"Turin\", got \"Rome\"",
      "ReferenceValues.snp[1].TrustedMeasurement: expected 48 bytes of hex, got 47",
      "ReferenceValues.snp[1].MinimumTCB: missing",
      "ReferenceValues.snp[1].PlatformInfo.TIOEnabled: expected true or false, got number 1",
      "ReferenceValues.snp[1].MinimumMitigationVector: out of range (0..18446744073709551615), got -1",
      "ReferenceValues.snp[1].AllowedChipIDs[1]: expected 64 bytes of hex, got invalid hex",
      "ReferenceValues.snp[1].AllowedChipIDs[2]: expected 64 bytes of hex, got number 5",
  };
  for (const std::string& line : expected) EXPECT_THAT(rv.error().message, HasSubstr(line));
  // Exactly these problems, one per line, and nothing about the valid chip id.
  EXPECT_EQ(std::count(rv.error().message.begin(), rv.error().message.end(), '\n'), std::size(expected) - 1)
      << rv.error().message;
  EXPECT_THAT(rv.error().message, Not(HasSubstr("AllowedChipIDs[0]")));
}

TEST(SnpReferenceValues, RejectsDebugAndMigrationAgentPolicies) {
  nlohmann::json entry = MilanEntry();
  entry["GuestPolicy"]["Debug"] = true;
  entry["GuestPolicy"]["MigrateMA"] = true;
  const std::string error = ErrorForEntry(entry);
  EXPECT_THAT(error, HasSubstr("ReferenceValues.snp[0].GuestPolicy.Debug: must be false"));
  EXPECT_THAT(error, HasSubstr("ReferenceValues.snp[0].GuestPolicy.MigrateMA: must be false"));
}

TEST(SnpReferenceValues, ProductNameIsExact) {
  for (const char* name : {"milan", "Milan-B0", "GENOA", ""}) {
    nlohmann::json entry = MilanEntry();
    entry["ProductName"] = name;
    EXPECT_THAT(ErrorForEntry(entry), HasSubstr("ReferenceValues.snp[0].ProductName: expected \"Milan\"")) << name;
  }
  nlohmann::json entry = MilanEntry();
  entry.erase("ProductName");
  EXPECT_THAT(ErrorForEntry(entry), HasSubstr("ReferenceValues.snp[0].ProductName: missing"));
}

TEST(SnpReferenceValues, FmcVersionOnlyForTurin) {
  nlohmann::json entry = MilanEntry();
  entry["MinimumTCB"]["FMCVersion"] = 1;
  EXPECT_THAT(ErrorForEntry(entry),
              HasSubstr("ReferenceValues.snp[0].MinimumTCB.FMCVersion: only Turin has an FMC version, but "
                        "ProductName is Milan"));
  entry["MinimumTCB"]["FMCVersion"] = nullptr;  // null = absent
  EXPECT_EQ(ErrorForEntry(entry), "");

  entry["ProductName"] = "Turin";
  entry["MinimumTCB"]["FMCVersion"] = 2;
  auto rv = ParseReferenceValues(entry.dump());
  ASSERT_TRUE(rv) << rv.error().message;
  EXPECT_EQ(rv->snp.at(0).product, Product::kTurin);
  EXPECT_EQ(rv->snp.at(0).minimum_tcb.fmc, 2);
}

TEST(SnpReferenceValues, RejectsBadNumbers) {
  struct Case {
    const char* key;
    nlohmann::json value;
    const char* message;
  };
  const Case cases[] = {
      {"RequiredVMPL", 4, "RequiredVMPL: out of range (0..3), got 4"},
      {"MinimumReportVersion", 1, "MinimumReportVersion: out of range (2..5), got 1"},
      {"MinimumReportVersion", 6, "MinimumReportVersion: out of range (2..5), got 6"},
      {"MinimumMitigationVector", 1.5, "MinimumMitigationVector: expected an integer"},
      {"MinimumMitigationVector", 1e30, "MinimumMitigationVector: expected an integer"},
      {"MinimumMitigationVector", "7",
       "MinimumMitigationVector: expected an integer (0..18446744073709551615), got "
       "string"},
      {"RequiredVMPL", true, "RequiredVMPL: expected an integer (0..3), got true"},
      {"PermitProvisionalFirmware", 0, "PermitProvisionalFirmware: expected true or false, got number 0"},
      {"AllowMissingRevocationCheck", "true", "AllowMissingRevocationCheck: expected true or false, got string"},
  };
  for (const Case& c : cases) {
    nlohmann::json entry = MilanEntry();
    entry[c.key] = c.value;
    EXPECT_THAT(ErrorForEntry(entry), HasSubstr(std::string("ReferenceValues.snp[0].") + c.message)) << c.key;
  }
  nlohmann::json entry = MilanEntry();
  entry["MinimumTCB"]["SNPVersion"] = 8.0;  // integral float: still not an integer in JSON terms
  EXPECT_THAT(ErrorForEntry(entry), HasSubstr("MinimumTCB.SNPVersion: expected an integer (0..255), got number 8.0"));
  entry["MinimumTCB"]["SNPVersion"] = -8;
  EXPECT_THAT(ErrorForEntry(entry), HasSubstr("MinimumTCB.SNPVersion: out of range (0..255), got -8"));
  entry["GuestPolicy"]["ABIMinor"] = 300;
  EXPECT_THAT(ErrorForEntry(entry), HasSubstr("GuestPolicy.ABIMinor: out of range (0..255), got 300"));
}

TEST(SnpReferenceValues, RejectsBadHex) {
  struct Case {
    const char* key;
    nlohmann::json value;
    const char* message;
  };
  const Case cases[] = {
      {"TrustedMeasurement", std::string(95, 'a'),
       "TrustedMeasurement: expected 48 bytes of hex, got invalid hex "
       "(hex string has odd length 95)"},
      {"TrustedMeasurement", std::string(98, 'a'), "TrustedMeasurement: expected 48 bytes of hex, got 49"},
      {"TrustedMeasurement", "", "TrustedMeasurement: expected 48 bytes of hex, got 0"},
      {"TrustedMeasurement", std::string(94, 'a') + "zz",
       "TrustedMeasurement: expected 48 bytes of hex, got "
       "invalid hex"},
      {"TrustedMeasurement", 42, "TrustedMeasurement: expected 48 bytes of hex, got number 42"},
      {"TrustedHostData", std::string(66, '0'), "TrustedHostData: expected 32 bytes of hex, got 33"},
      {"TrustedIDKeyDigests", "00", "TrustedIDKeyDigests: expected an array of hex strings, got string"},
      {"AllowedChipIDs",
       {std::string(128, '0')},
       "AllowedChipIDs[0]: an all-zero chip id would match every "
       "platform that masks its chip id"},
  };
  for (const Case& c : cases) {
    nlohmann::json entry = MilanEntry();
    entry[c.key] = c.value;
    EXPECT_THAT(ErrorForEntry(entry), HasSubstr(std::string("ReferenceValues.snp[0].") + c.message)) << c.key;
  }
}

TEST(SnpReferenceValues, RejectsWrongShapes) {
  EXPECT_THAT(ErrorOf(ParseReferenceValues("{}")), HasSubstr("ReferenceValues: no reference values"));
  EXPECT_THAT(ErrorOf(ParseReferenceValues(R"({"snp": [], "tdx": []})")),
              HasSubstr("ReferenceValues: no reference values"));
  EXPECT_THAT(ErrorOf(ParseReferenceValues("[]")), HasSubstr("ReferenceValues.snp: no reference values"));
  EXPECT_THAT(ErrorOf(ParseReferenceValues("\"snp\"")),
              HasSubstr("ReferenceValues: expected an object or an array, got string"));
  EXPECT_THAT(ErrorOf(ParseReferenceValues(R"({"snp": {}})")),
              HasSubstr("ReferenceValues.snp: expected an array, got object"));
  EXPECT_THAT(ErrorOf(ParseReferenceValues(R"({"snp": [1], "tdx": [[]]})")),
              ::testing::AllOf(HasSubstr("ReferenceValues.snp[0]: expected an object, got number 1"),
                               HasSubstr("ReferenceValues.tdx[0]: expected an object, got array")));
  EXPECT_THAT(ErrorOf(ParseReferenceValues(R"({"snp": [], "emulated": []})")),
              HasSubstr("ReferenceValues.emulated: unknown field"));
  EXPECT_THAT(ErrorOf(ParseReferenceValues(R"({"ReferenceValues": null})")),
              HasSubstr("ReferenceValues: expected an object, got null"));
  nlohmann::json entry = MilanEntry();
  entry["MinimumTCB"] = {3, 0, 8, 115};
  entry["GuestPolicy"] = "0x30000";
  EXPECT_THAT(ErrorForEntry(entry), ::testing::AllOf(HasSubstr("MinimumTCB: expected an object, got array"),
                                                     HasSubstr("GuestPolicy: expected an object, got string")));
  entry = MilanEntry();
  entry["APEIP"] = "0080b004";
  EXPECT_THAT(ErrorForEntry(entry), HasSubstr("ReferenceValues.snp[0].APEIP: not supported yet"));
}

TEST(SnpReferenceValues, RejectsMalformedJson) {
  const auto invalid = ParseReferenceValues(R"({"snp": [)");
  ASSERT_FALSE(invalid);
  EXPECT_EQ(invalid.error().code, ErrorCode::kParse);
  EXPECT_THAT(invalid.error().message, HasSubstr("ReferenceValues: invalid JSON"));

  EXPECT_THAT(ErrorOf(ParseReferenceValues(R"({"snp": [], "snp": []})")),
              HasSubstr("ReferenceValues: duplicate key \"snp\""));
  nlohmann::json entry = MilanEntry();
  std::string text = entry.dump();
  text.insert(1, R"("ProductName": "Genoa", )");  // a second ProductName, before the real one
  EXPECT_THAT(ErrorOf(ParseReferenceValues(text)), HasSubstr("duplicate key \"ProductName\""));
  // Reported together with the schema problems.
  text.insert(1, R"("Extra": 1, )");
  EXPECT_THAT(ErrorOf(ParseReferenceValues(text)),
              ::testing::AllOf(HasSubstr("ReferenceValues: duplicate key \"ProductName\"\n"),
                               HasSubstr("ReferenceValues.snp[0].Extra: unknown field")));

  const std::string deep = std::string(10000, '[') + std::string(10000, ']');
  EXPECT_THAT(ErrorOf(ParseReferenceValues(deep)), HasSubstr("nesting deeper than 64 levels"));
  const std::string deep_objects = [] {
    std::string s;
    for (int i = 0; i < 5000; ++i) s += R"({"a":)";
    s += "0";
    for (int i = 0; i < 5000; ++i) s += "}";
    return s;
  }();
  EXPECT_THAT(ErrorOf(ParseReferenceValues(deep_objects)), HasSubstr("nesting deeper than 64 levels"));

  const std::string huge(kMaxReferenceValuesJsonSize + 1, ' ');
  EXPECT_THAT(ErrorOf(ParseReferenceValues(huge)), HasSubstr("more than the limit"));
  EXPECT_THAT(ErrorOf(ParseReferenceValues("")), HasSubstr("invalid JSON"));
  EXPECT_THAT(ErrorOf(ParseReferenceValues("{\"snp\": [\"\xff\"]}")), HasSubstr("invalid JSON"));
}

TEST(SnpReferenceValues, SanitisesAndCapsProblems) {
  nlohmann::json entry = MilanEntry();
  entry["evil\nkey\x01"] = 1;
  EXPECT_THAT(ErrorForEntry(entry), HasSubstr("ReferenceValues.snp[0].evil?key?: unknown field"));

  nlohmann::json many = MilanEntry();
  for (int i = 0; i < 1000; ++i) many["k" + std::to_string(i)] = i;
  const std::string error = ErrorForEntry(many);
  EXPECT_EQ(std::count(error.begin(), error.end(), '\n'), static_cast<long>(kMaxReportedParseProblems));
  EXPECT_THAT(error, HasSubstr("(900 more problems not shown)"));
}

TEST(SnpReferenceValues, BuildingBlocksAppendToCallerProblems) {
  ParseProblems problems = {"Policies.abc: not hex"};
  nlohmann::json entry = MilanEntry();
  entry.erase("TrustedMeasurement");
  const ReferenceValues rv = ReadReferenceValues({{"snp", {MilanEntry(), entry}}}, "ReferenceValues", problems);
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[1], "ReferenceValues.snp[1].TrustedMeasurement: missing");
  EXPECT_EQ(rv.snp.size(), 2u);

  ParseProblems entry_problems;
  const SnpReferenceValues one = ReadSnpReferenceValues(MilanEntry(), "x", entry_problems);
  EXPECT_TRUE(entry_problems.empty());
  EXPECT_EQ(one.product, Product::kMilan);
}

TEST(SnpReferenceValues, JsonRoundTrips) {
  SnpReferenceValues rv;
  rv.platform = "Metal-QEMU-SNP";
  rv.product = Product::kTurin;
  rv.trusted_measurement.fill(0xAB);
  rv.minimum_tcb = TcbParts{.fmc = 1, .bootloader = 2, .tee = 3, .snp = 4, .microcode = 200};
  rv.guest_policy = GuestPolicy{.abi_minor = 31, .smt = true, .single_socket = true, .page_swap_disable = true};
  rv.platform_info = PlatformInfo{.ecc_enabled = true, .alias_check_complete = true, .tio_enabled = true};
  rv.minimum_mitigation_vector = 0x5;
  rv.allowed_chip_ids.push_back({});
  rv.allowed_chip_ids[0][0] = 0x1e;
  rv.trusted_host_data.emplace().fill(0x11);
  rv.trusted_id_key_digests.push_back({});
  rv.minimum_report_version = 5;
  rv.required_vmpl = 1;
  rv.permit_provisional_firmware = false;
  rv.allow_missing_revocation_check = true;

  const nlohmann::json j = SnpReferenceValuesToJson(rv);
  EXPECT_EQ(j["AllowMissingRevocationCheck"], true);
  EXPECT_EQ(j["ProductName"], "Turin");
  EXPECT_EQ(j["MinimumTCB"]["FMCVersion"], 1);
  ParseProblems problems;
  const SnpReferenceValues back = ReadSnpReferenceValues(j, "ReferenceValues.snp[0]", problems);
  ASSERT_TRUE(problems.empty()) << problems.front();
  EXPECT_EQ(SnpReferenceValuesToJson(back), j);
  EXPECT_EQ(back.minimum_tcb, rv.minimum_tcb);
  EXPECT_EQ(back.guest_policy, rv.guest_policy);
  EXPECT_EQ(back.platform_info, rv.platform_info);
  EXPECT_EQ(back.allowed_chip_ids, rv.allowed_chip_ids);
  EXPECT_EQ(back.trusted_host_data, rv.trusted_host_data);
  EXPECT_EQ(back.trusted_id_key_digests, rv.trusted_id_key_digests);
  EXPECT_EQ(back.required_vmpl, 1u);
  EXPECT_FALSE(back.permit_provisional_firmware);
  EXPECT_TRUE(back.allow_missing_revocation_check);

  // Upstream-shaped output for an entry without our additions.
  ParseProblems milan_problems;
  const nlohmann::json milan =
      SnpReferenceValuesToJson(ReadSnpReferenceValues(MilanEntry(), "ReferenceValues.snp[0]", milan_problems));
  ASSERT_TRUE(milan_problems.empty());
  EXPECT_FALSE(milan.contains("RequiredVMPL"));
  EXPECT_FALSE(milan.contains("PermitProvisionalFirmware"));
  EXPECT_FALSE(milan.contains("AllowMissingRevocationCheck"));
  EXPECT_FALSE(milan["MinimumTCB"].contains("FMCVersion"));
  nlohmann::json expected = MilanEntry();
  expected["PlatformInfo"]["TIOEnabled"] = false;
  EXPECT_EQ(milan, expected);
}

}  // namespace
}  // namespace contrast::attest::snp
