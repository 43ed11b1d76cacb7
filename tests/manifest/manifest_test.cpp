#include "manifest/manifest.h"

#include <openssl/x509.h>

#include <set>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "crypto/keys.h"

namespace contrast::manifest {
namespace {

using nlohmann::json;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::StartsWith;

// B2 (virtee Milan report, VECTORS.md) values, in upstream's manifest shape.
constexpr std::string_view kMilanMeasurement =
    "7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f";
constexpr std::string_view kMilanChipId =
    "d49554ec717f4e5b0fe6b143bcf0405bd7ae304727edf46603f2a76aef6a3abc15d7af38db757039029f0efacfd08e244324884738c72b08"
    "2e2f87a44d541eb6";
constexpr std::string_view kEmulatedRoot = "5e0e5d0c0b7a8f6e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6";

const std::string kCoordinatorPolicy = "package agent_policy\n# coordinator\n";
const std::string kWebPolicy = "package agent_policy\n# web\n";
const std::string kDbPolicy = "package agent_policy\n# db\n";

std::string HashHex(const std::string& policy) { return PolicyHashOf(AsBytes(policy)).Hex(); }

json MilanEntry() {
  return {{"Platform", "Metal-QEMU-SNP"},
          {"ProductName", "Milan"},
          {"TrustedMeasurement", kMilanMeasurement},
          {"MinimumTCB", {{"BootloaderVersion", 3}, {"TEEVersion", 0}, {"SNPVersion", 8}, {"MicrocodeVersion", 115}}},
          {"GuestPolicy",
           {{"ABIMinor", 0},
            {"ABIMajor", 0},
            {"SMT", true},
            {"MigrateMA", false},
            {"Debug", false},
            {"SingleSocket", false},
            {"CXLAllowed", false},
            {"MemAES256XTS", false},
            {"RAPLDis", false},
            {"CipherTextHidingDRAM", false},
            {"PageSwapDisable", false}}},
          {"PlatformInfo",
           {{"SMTEnabled", true},
            {"TSMEEnabled", false},
            {"ECCEnabled", false},
            {"RAPLDisabled", false},
            {"CiphertextHidingDRAMEnabled", false},
            {"AliasCheckComplete", false}}},
          {"MinimumMitigationVector", 0},
          {"AllowedChipIDs", {kMilanChipId}}};
}

// D1 (go-tdx-guest SPR E4 quote, VECTORS.md) values, in upstream's manifest
// shape (newest field set).
json TdxEntry() {
  return {
      {"Platform", "Metal-QEMU-TDX"},
      {"MinTCBEvaluationDataNumber", 15},
      {"MrTd", "6363b8043668a3ad953278e10389574d326c6749fb78aa810ecd9336923db86f22fc00b8dcd404bc10d5e119d7215cbb"},
      {"MrSeam", "2fd279c16164a93dd5bf373d834328d46008c2b693af9ebb865b08b2ced320c9a89b4869a9fab60fbe9d0c5a5363c656"},
      {"Rtmrs",
       {"2927da70461cd63266f43230cc1849c03ef25ebe490062a801d8fcc80af42976823adf08f833c1e50b51779c6593f32a",
        "2c700b8ba9b85783f8be9fb9443647bdc0bb3c50747f06297cc6538c25a5f589c4b56d035c59107c6bc5800db2cacb61",
        "8652f0caaba7e215ea442dc36a4499d8fec3362f3a0b2ca151cbe4b3e6466fe59c7368b3c2287fc7c3bf5c924eb4424e",
        std::string(96, '0')}},
      {"Xfam", "e71a060000000000"},
      {"AllowedPIIDs", json::array()},
      {"MemoryIntegrity", false},
      {"SMTDisabled", false},
      {"StaticPlatform", false}};
}

json EmulatedEntry() {
  json entry = MilanEntry();
  entry["Platform"] = "Emulated-SNP";
  entry["EmulatedRootSHA256"] = kEmulatedRoot;
  return entry;
}

// Keys generated once: RSA generation is slow.
struct Keys {
  Bytes owner_spki;     // EC P-384 SubjectPublicKeyInfo DER
  Bytes seedshare_der;  // RSA-2048 PKCS#1 DER
  Bytes seedshare_spki;
};

Bytes Pkcs1Der(const crypto::PrivateKey& key) {
  unsigned char* out = nullptr;
  const int length = i2d_PublicKey(key.get(), &out);
  EXPECT_GT(length, 0);
  crypto::OpensslBytesPtr owned(out);
  return Bytes(out, out + length);
}

const Keys& TestKeys() {
  static const Keys keys = [] {
    Keys k;
    auto owner = crypto::PrivateKey::Generate(crypto::KeyType::kEcP384);
    auto rsa = crypto::PrivateKey::Generate(crypto::KeyType::kRsa2048);
    if (!owner || !rsa) std::abort();
    k.owner_spki = *owner->PublicKeyDer();
    k.seedshare_der = Pkcs1Der(*rsa);
    k.seedshare_spki = *rsa->PublicKeyDer();
    return k;
  }();
  return keys;
}

// One coordinator policy, two workload policies, real SNP reference values.
json ManifestJson() {
  json policies = json::object();
  policies[HashHex(kCoordinatorPolicy)] = {{"SANs", {"coordinator", "*"}},
                                           {"WorkloadSecretID", "apps/v1/StatefulSet/default/coordinator"},
                                           {"Role", "coordinator"}};
  policies[HashHex(kWebPolicy)] = {{"SANs", {"web", "*", "203.0.113.34", "spiffe://acme.com/web"}},
                                   {"WorkloadSecretID", "apps/v1/Deployment/default/web"}};
  policies[HashHex(kDbPolicy)] = {{"SANs", {"db", "*"}}};
  return {{"Policies", policies},
          {"ReferenceValues", {{"snp", {MilanEntry()}}}},
          {"WorkloadOwnerKeyDigests", {HexEncode(crypto::Sha256(TestKeys().owner_spki))}},
          {"SeedshareOwnerPubKeys", {HexEncode(TestKeys().seedshare_der)}}};
}

json EmulatedManifestJson() {
  json m = ManifestJson();
  m["ReferenceValues"] = {{"emulated", {EmulatedEntry()}}};
  return m;
}

// The problems for `text` (empty when it parses).
std::vector<std::string> ProblemsOfText(std::string_view text) {
  auto parsed = ParseManifestReportingProblems(text);
  return parsed ? std::vector<std::string>{} : parsed.error();
}
std::vector<std::string> ProblemsOf(const json& manifest) { return ProblemsOfText(manifest.dump()); }

TEST(Manifest, ParsesRealisticManifest) {
  auto m = ParseManifest(ManifestJson().dump());
  ASSERT_TRUE(m) << m.error().message;
  ASSERT_THAT(m->policies, SizeIs(3));
  const PolicyEntry* coordinator = m->FindPolicy(PolicyHashOf(AsBytes(kCoordinatorPolicy)));
  ASSERT_NE(coordinator, nullptr);
  EXPECT_EQ(coordinator->role, Role::kCoordinator);
  EXPECT_THAT(coordinator->sans, ElementsAre("coordinator", "*"));
  EXPECT_EQ(coordinator->workload_secret_id, "apps/v1/StatefulSet/default/coordinator");
  const PolicyEntry* web = m->FindPolicy(PolicyHashOf(AsBytes(kWebPolicy)));
  ASSERT_NE(web, nullptr);
  EXPECT_EQ(web->role, Role::kNone);
  EXPECT_THAT(web->sans, ElementsAre("web", "*", "203.0.113.34", "spiffe://acme.com/web"));
  const PolicyEntry* db = m->FindPolicy(PolicyHashOf(AsBytes(kDbPolicy)));
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->workload_secret_id, "");
  EXPECT_EQ(m->FindPolicy(PolicyHashOf(AsBytes("other"))), nullptr);

  EXPECT_THAT(m->CoordinatorPolicyHashes(), ElementsAre(PolicyHashOf(AsBytes(kCoordinatorPolicy))));
  ASSERT_THAT(m->reference_values.snp, SizeIs(1));
  EXPECT_EQ(m->reference_values.snp[0].product, attest::snp::Product::kMilan);
  EXPECT_EQ(HexEncode(m->reference_values.snp[0].trusted_measurement), kMilanMeasurement);
  EXPECT_EQ(m->reference_values.snp[0].minimum_tcb.microcode, 115);
  EXPECT_FALSE(m->insecure());
  EXPECT_TRUE(m->HasWorkloadOwnerKey(TestKeys().owner_spki));
  EXPECT_FALSE(m->HasWorkloadOwnerKey(TestKeys().seedshare_spki));
  EXPECT_THAT(m->seedshare_owner_pub_keys, ElementsAre(TestKeys().seedshare_der));
}

TEST(Manifest, ParsesEmulatedManifestAsInsecure) {
  auto m = ParseManifest(EmulatedManifestJson().dump());
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_TRUE(m->insecure());
  ASSERT_THAT(m->reference_values.emulated, SizeIs(1));
  EXPECT_EQ(HexEncode(m->reference_values.emulated[0].root_sha256), kEmulatedRoot);
  EXPECT_EQ(m->reference_values.emulated[0].snp.platform, "Emulated-SNP");
  EXPECT_EQ(HexEncode(m->reference_values.emulated[0].snp.trusted_measurement), kMilanMeasurement);
  EXPECT_THAT(m->reference_values.snp, IsEmpty());
}

TEST(Manifest, RoundTrips) {
  for (const json& input : {ManifestJson(), EmulatedManifestJson()}) {
    auto m = ParseManifest(input.dump());
    ASSERT_TRUE(m) << m.error().message;
    const std::string text = SerializeManifest(*m);
    auto again = ParseManifest(text);
    ASSERT_TRUE(again) << again.error().message << "\n" << text;
    EXPECT_EQ(*again, *m);
    EXPECT_EQ(SerializeManifest(*again), text);
    EXPECT_TRUE(ValidateManifest(*m));
  }
}

TEST(Manifest, TdxEntryRoundTrips) {
  json manifest = ManifestJson();
  manifest["ReferenceValues"]["tdx"] = json::array({TdxEntry()});
  auto m = ParseManifest(manifest.dump());
  ASSERT_TRUE(m) << m.error().message;
  ASSERT_THAT(m->reference_values.tdx, SizeIs(1));
  const attest::tdx::TdxReferenceValues& tdx = m->reference_values.tdx[0];
  EXPECT_EQ(tdx.platform, "Metal-QEMU-TDX");
  EXPECT_EQ(tdx.min_tcb_evaluation_data_number, 15u);
  EXPECT_EQ(HexEncode(tdx.mr_td), TdxEntry()["MrTd"]);
  EXPECT_EQ(HexEncode(tdx.rtmrs[2]), TdxEntry()["Rtmrs"][2]);
  EXPECT_EQ(HexEncode(tdx.xfam), "e71a060000000000");
  const std::string text = SerializeManifest(*m);
  // The entry is written back with exactly upstream's keys and values.
  EXPECT_EQ(json::parse(text)["ReferenceValues"]["tdx"][0], TdxEntry());
  // Upstream's field order inside the entry.
  EXPECT_LT(text.find("\"Platform\": \"Metal-QEMU-TDX\""), text.find("\"MrTd\""));
  EXPECT_LT(text.find("\"MrTd\""), text.find("\"MrSeam\""));
  EXPECT_LT(text.find("\"Rtmrs\""), text.find("\"Xfam\""));
  auto again = ParseManifest(text);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(*again, *m);
  EXPECT_EQ(SerializeManifest(*again), text);
  EXPECT_TRUE(ValidateManifest(*m));
}

TEST(Manifest, TdxEntryWithUpstreamsOlderKeysParses) {
  json entry = TdxEntry();
  entry["Rtrms"] = entry["Rtmrs"];
  entry.erase("Rtmrs");
  entry["MinimumQeSvn"] = 4;
  entry["MinimumPceSvn"] = 11;
  entry["MinimumTeeTcbSvn"] = "03000400000000000000000000000000";
  entry["TdAttributes"] = "0000001000000000";
  json manifest = ManifestJson();
  manifest["ReferenceValues"]["tdx"] = json::array({entry});
  auto m = ParseManifest(manifest.dump());
  ASSERT_TRUE(m) << m.error().message;
  const attest::tdx::TdxReferenceValues& tdx = m->reference_values.tdx.at(0);
  EXPECT_EQ(HexEncode(tdx.rtmrs[1]), TdxEntry()["Rtmrs"][1]);
  EXPECT_EQ(tdx.minimum_qe_svn, 4);
  EXPECT_EQ(tdx.minimum_pce_svn, 11);
  ASSERT_TRUE(tdx.td_attributes);
  EXPECT_EQ(HexEncode(*tdx.td_attributes), "0000001000000000");
  // Written back with the current spelling; the older fields are kept.
  const json written = json::parse(SerializeManifest(*m))["ReferenceValues"]["tdx"][0];
  EXPECT_EQ(written["Rtmrs"], TdxEntry()["Rtmrs"]);
  EXPECT_FALSE(written.contains("Rtrms"));
  EXPECT_EQ(written["MinimumTeeTcbSvn"], "03000400000000000000000000000000");
  EXPECT_EQ(*ParseManifest(SerializeManifest(*m)), *m);
}

TEST(Manifest, SerialisationIsStableAndIndependentOfInputOrder) {
  const json input = ManifestJson();
  // The same manifest with every object's keys in reverse order.
  std::function<nlohmann::ordered_json(const json&)> reversed = [&](const json& v) -> nlohmann::ordered_json {
    if (v.is_object()) {
      nlohmann::ordered_json out = nlohmann::ordered_json::object();
      std::vector<std::string> keys;
      for (auto it = v.begin(); it != v.end(); ++it) keys.push_back(it.key());
      for (auto it = keys.rbegin(); it != keys.rend(); ++it) out[*it] = reversed(v.at(*it));
      return out;
    }
    if (v.is_array()) {
      nlohmann::ordered_json out = nlohmann::ordered_json::array();
      for (const json& e : v) out.push_back(reversed(e));
      return out;
    }
    return nlohmann::ordered_json(v);
  };
  const std::string forward_text = input.dump();
  const std::string reverse_text = reversed(input).dump(4);
  ASSERT_NE(forward_text, reverse_text);
  auto a = ParseManifest(forward_text);
  auto b = ParseManifest(reverse_text);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(SerializeManifest(*a), SerializeManifest(*a));
  EXPECT_EQ(SerializeManifest(*a), SerializeManifest(*b));
}

TEST(Manifest, SerialisesCanonically) {
  Manifest m;
  m.policies[*PolicyHash::FromHex(std::string(64, 'B'))] = PolicyEntry{.sans = {"web"}, .workload_secret_id = ""};
  m.policies[*PolicyHash::FromHex(std::string(64, 'a'))] =
      PolicyEntry{.sans = {"coordinator", "*"}, .workload_secret_id = "c", .role = Role::kCoordinator};
  auto rv = attest::snp::ParseReferenceValues(json::array({MilanEntry()}).dump());
  ASSERT_TRUE(rv) << rv.error().message;
  m.reference_values.emulated.push_back({rv->snp[0], PolicyHash::FromHex(kEmulatedRoot)->bytes});
  m.workload_owner_key_digests.push_back(crypto::Sha256Digest{0xAB});
  const std::string expected = R"({
  "Policies": {
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa": {
      "SANs": [
        "coordinator",
        "*"
      ],
      "WorkloadSecretID": "c",
      "Role": "coordinator"
    },
    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb": {
      "SANs": [
        "web"
      ]
    }
  },
  "ReferenceValues": {
    "emulated": [
      {
        "Platform": "Metal-QEMU-SNP",
        "ProductName": "Milan",
        "TrustedMeasurement": "7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f",
        "MinimumTCB": {
          "BootloaderVersion": 3,
          "TEEVersion": 0,
          "SNPVersion": 8,
          "MicrocodeVersion": 115
        },
        "GuestPolicy": {
          "ABIMinor": 0,
          "ABIMajor": 0,
          "SMT": true,
          "MigrateMA": false,
          "Debug": false,
          "SingleSocket": false,
          "CXLAllowed": false,
          "MemAES256XTS": false,
          "RAPLDis": false,
          "CipherTextHidingDRAM": false,
          "PageSwapDisable": false
        },
        "PlatformInfo": {
          "SMTEnabled": true,
          "TSMEEnabled": false,
          "ECCEnabled": false,
          "RAPLDisabled": false,
          "CiphertextHidingDRAMEnabled": false,
          "AliasCheckComplete": false,
          "TIOEnabled": false
        },
        "MinimumMitigationVector": 0,
        "AllowedChipIDs": [
          "d49554ec717f4e5b0fe6b143bcf0405bd7ae304727edf46603f2a76aef6a3abc15d7af38db757039029f0efacfd08e244324884738c72b082e2f87a44d541eb6"
        ],
        "EmulatedRootSHA256": "5e0e5d0c0b7a8f6e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6"
      }
    ]
  },
  "WorkloadOwnerKeyDigests": [
    "ab00000000000000000000000000000000000000000000000000000000000000"
  ],
  "SeedshareOwnerPubKeys": []
}
)";
  EXPECT_EQ(SerializeManifest(m), expected);
  EXPECT_TRUE(ValidateManifest(m));
}

TEST(Manifest, PolicyHashHex) {
  auto upper = PolicyHash::FromHex(std::string(62, 'A') + "0f");
  ASSERT_TRUE(upper);
  EXPECT_EQ(upper->Hex(), std::string(62, 'a') + "0f");
  EXPECT_FALSE(PolicyHash::FromHex(std::string(63, 'a')));
  EXPECT_FALSE(PolicyHash::FromHex(std::string(66, 'a')));
  EXPECT_FALSE(PolicyHash::FromHex(std::string(63, 'a') + "g"));
  // SHA-256("abc").
  EXPECT_EQ(PolicyHashOf(AsBytes("abc")).Hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HexEncode(ManifestHash(AsBytes("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Manifest, AcceptsUppercasePolicyKeys) {
  json manifest = ManifestJson();
  const std::string lower = HashHex(kWebPolicy);
  std::string upper = lower;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  manifest["Policies"][upper] = manifest["Policies"][lower];
  manifest["Policies"].erase(lower);
  auto m = ParseManifest(manifest.dump());
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_NE(m->FindPolicy(PolicyHashOf(AsBytes(kWebPolicy))), nullptr);
  EXPECT_THAT(SerializeManifest(*m), HasSubstr("\"" + lower + "\""));
}

TEST(Manifest, NullMeansAbsent) {
  // Go writes nil slices as null.
  json manifest = ManifestJson();
  manifest["WorkloadOwnerKeyDigests"] = nullptr;
  manifest["SeedshareOwnerPubKeys"] = nullptr;
  manifest["Policies"][HashHex(kDbPolicy)]["SANs"] = nullptr;
  manifest["ReferenceValues"]["tdx"] = nullptr;
  manifest["WorkloadOwnerPubKeys"] = json::array();
  auto m = ParseManifest(manifest.dump());
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_THAT(m->workload_owner_key_digests, IsEmpty());
  EXPECT_THAT(m->seedshare_owner_pub_keys, IsEmpty());
  EXPECT_THAT(m->FindPolicy(PolicyHashOf(AsBytes(kDbPolicy)))->sans, IsEmpty());
}

TEST(Manifest, ClassifiesSans) {
  EXPECT_EQ(ClassifySan("web"), SanKind::kDns);
  EXPECT_EQ(ClassifySan("*"), SanKind::kDns);
  EXPECT_EQ(ClassifySan("*.default.svc"), SanKind::kDns);
  EXPECT_EQ(ClassifySan("10.0.0.1"), SanKind::kIp);
  EXPECT_EQ(ClassifySan("203.0.113.34"), SanKind::kIp);
  EXPECT_EQ(ClassifySan("::1"), SanKind::kIp);
  EXPECT_EQ(ClassifySan("2001:db8::8a2e:370:7334"), SanKind::kIp);
  EXPECT_EQ(ClassifySan("spiffe://acme.com/web"), SanKind::kUri);
  EXPECT_EQ(ClassifySan("https://example.com"), SanKind::kUri);
  EXPECT_EQ(ClassifySan("svc+x.y-z://a"), SanKind::kUri);
  EXPECT_EQ(ClassifySan("://nothing"), SanKind::kDns);
  EXPECT_EQ(ClassifySan("1a://x"), SanKind::kDns);
  EXPECT_EQ(ClassifySan("10.0.0.256"), SanKind::kDns);
  EXPECT_EQ(ClassifySan(std::string_view("10.0.0.1\0x", 10)), SanKind::kDns);
}

// --- One negative case per rule. --------------------------------------------

TEST(ManifestValidation, InvalidJsonNamesLineAndColumn) {
  auto problems = ProblemsOfText("{\n  \"Policies\": {,\n}");
  ASSERT_THAT(problems, SizeIs(1));
  EXPECT_THAT(problems[0], AllOf(StartsWith("manifest: invalid JSON"), HasSubstr("line 2, column 16")));
}

TEST(ManifestValidation, RootMustBeAnObject) {
  EXPECT_THAT(ProblemsOfText("[]"), ElementsAre("manifest: expected an object, got array"));
}

TEST(ManifestValidation, UnknownTopLevelKey) {
  json manifest = ManifestJson();
  manifest["Policy"] = json::object();
  EXPECT_THAT(ProblemsOf(manifest), ElementsAre(StartsWith("Policy: unknown field (expected Policies,")));
}

TEST(ManifestValidation, DuplicateKeysAreRejectedWithPath) {
  const std::string text = ManifestJson().dump();
  // A second WorkloadOwnerKeyDigests at the end of the top-level object.
  std::string duplicate_top = text.substr(0, text.size() - 1) + R"(,"WorkloadOwnerKeyDigests":[]})";
  EXPECT_THAT(ProblemsOfText(duplicate_top),
              ElementsAre("WorkloadOwnerKeyDigests: duplicate key (each key may appear only once)"));
  // Inside the first SNP entry's MinimumTCB.
  std::string nested = text;
  const std::string tcb = R"("MinimumTCB":{)";
  nested.insert(nested.find(tcb) + tcb.size(), R"("SNPVersion":1,)");
  EXPECT_THAT(ProblemsOfText(nested),
              ElementsAre("ReferenceValues.snp[0].MinimumTCB.SNPVersion: duplicate key (each key "
                          "may appear only once)"));
  // Inside a policy's SANs (a second "SANs" key).
  std::string in_policy = text;
  const std::string sans = R"("SANs":)";
  in_policy.insert(in_policy.find(sans), R"("SANs":[],)");
  EXPECT_THAT(ProblemsOfText(in_policy), Contains(AllOf(StartsWith("Policies."), HasSubstr(".SANs: duplicate key"))));
}

TEST(ManifestValidation, PoliciesMissingOrNotAnObject) {
  json manifest = ManifestJson();
  manifest.erase("Policies");
  EXPECT_THAT(ProblemsOf(manifest), ElementsAre("Policies: missing"));
  manifest["Policies"] = json::array();
  EXPECT_THAT(ProblemsOf(manifest), ElementsAre("Policies: expected an object (policy hash -> entry), got array"));
}

TEST(ManifestValidation, PolicyKeyMustBe64Hex) {
  json manifest = ManifestJson();
  const std::string short_key = std::string(63, 'a');
  const std::string non_hex = std::string(63, 'a') + "z";
  manifest["Policies"][short_key] = {{"SANs", {"x"}}};
  manifest["Policies"][non_hex] = {{"SANs", {"y"}}};
  EXPECT_THAT(ProblemsOf(manifest),
              ElementsAre("Policies." + short_key +
                              ": key must be 64 hex characters (SHA-256 of the policy document), got 63 characters",
                          "Policies." + non_hex.substr(0, 64) +
                              ": key must be 64 hex characters (SHA-256 of the policy document), got a non-hex "
                              "character"));
}

TEST(ManifestValidation, PolicyKeysDifferingOnlyInCaseConflict) {
  json manifest = ManifestJson();
  const std::string lower = HashHex(kWebPolicy);
  std::string upper = lower;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  ASSERT_NE(upper, lower);
  manifest["Policies"][upper] = {{"SANs", {"other"}}};
  EXPECT_THAT(ProblemsOf(manifest), ElementsAre("Policies." + lower + ": conflicts with Policies." + upper +
                                                " (the same hash in different case)"));
}

TEST(ManifestValidation, RoleMustBeCoordinatorOrEmpty) {
  json manifest = ManifestJson();
  const std::string key = HashHex(kWebPolicy);
  manifest["Policies"][key]["Role"] = "contrast-node-installer";
  EXPECT_THAT(ProblemsOf(manifest), ElementsAre("Policies." + key +
                                                ".Role: expected \"coordinator\" or \"\", got string "
                                                "\"contrast-node-installer\""));
  manifest["Policies"][key]["Role"] = "";
  EXPECT_THAT(ProblemsOf(manifest), IsEmpty());
  manifest["Policies"][key]["Role"] = 1;
  EXPECT_THAT(ProblemsOf(manifest), ElementsAre(HasSubstr(".Role: expected \"coordinator\" or \"\", got number 1")));
}

TEST(ManifestValidation, NeedsACoordinatorPolicy) {
  json manifest = ManifestJson();
  manifest["Policies"][HashHex(kCoordinatorPolicy)].erase("Role");
  EXPECT_THAT(ProblemsOf(manifest), ElementsAre("Policies: no policy has Role \"coordinator\""));
}

TEST(ManifestValidation, PolicyEntryFields) {
  const std::string key = HashHex(kWebPolicy);
  const std::string at = "Policies." + key;
  auto with = [&](const json& entry) {
    json manifest = ManifestJson();
    manifest["Policies"][key] = entry;
    return ProblemsOf(manifest);
  };
  EXPECT_THAT(with("web"), ElementsAre(at + ": expected an object, got string \"web\""));
  EXPECT_THAT(with({{"SANs", "web"}}), ElementsAre(at + ".SANs: expected an array of strings, got string \"web\""));
  EXPECT_THAT(with({{"SANs", {"web", ""}}}), ElementsAre(at + ".SANs[1]: must not be empty"));
  EXPECT_THAT(with({{"SANs", {"web", 7}}}), ElementsAre(at + ".SANs[1]: expected a non-empty string, got number 7"));
  EXPECT_THAT(with({{"SANs", {"we\nb"}}}), ElementsAre(at + ".SANs[0]: contains a control character"));
  EXPECT_THAT(with({{"SANs", {"web"}}, {"WorkloadSecretID", false}}),
              ElementsAre(at + ".WorkloadSecretID: expected a string, got false"));
  EXPECT_THAT(with({{"SANs", {"web"}}, {"Sans", {"web"}}}), ElementsAre(at + ".Sans: unknown field"));
}

TEST(ManifestValidation, ReferenceValuesMissingEmptyOrUnknownPlatform) {
  json manifest = ManifestJson();
  manifest.erase("ReferenceValues");
  EXPECT_THAT(ProblemsOf(manifest), ElementsAre("ReferenceValues: missing"));
  manifest["ReferenceValues"] = {{"snp", json::array()}};
  EXPECT_THAT(ProblemsOf(manifest), ElementsAre("ReferenceValues: no entries (snp, tdx or emulated)"));
  manifest["ReferenceValues"] = {{"snp", {MilanEntry()}}, {"sev", json::array()}};
  EXPECT_THAT(ProblemsOf(manifest),
              ElementsAre("ReferenceValues.sev: unknown platform (expected snp, tdx or emulated)"));
  manifest["ReferenceValues"] = {{"snp", MilanEntry()}};
  EXPECT_THAT(ProblemsOf(manifest), ElementsAre("ReferenceValues.snp: expected an array, got object"));
  manifest["ReferenceValues"] = {{"tdx", {"x"}}};
  EXPECT_THAT(ProblemsOf(manifest), ElementsAre("ReferenceValues.tdx[0]: expected an object, got string \"x\""));
}

TEST(ManifestValidation, SnpEntryProblemsCarryTheirPath) {
  json manifest = ManifestJson();
  json bad = MilanEntry();
  bad["MinimumTCB"].erase("SNPVersion");
  manifest["ReferenceValues"]["snp"].push_back(bad);
  EXPECT_THAT(ProblemsOf(manifest), ElementsAre("ReferenceValues.snp[1].MinimumTCB.SNPVersion: missing"));
}

TEST(ManifestValidation, TdxEntryProblemsCarryTheirPath) {
  json manifest = ManifestJson();
  json bad = TdxEntry();
  bad.erase("MrSeam");
  bad["MrTd"] = std::string(94, 'a');
  bad["Rtmrs"][3] = 7;
  bad["Xfam"] = "zz";
  bad["SMTDisabled"] = "no";
  bad["TdAttributes"] = "0100001000000000";
  bad["Rtmr"] = json::array();
  manifest["ReferenceValues"]["tdx"] = json::array({TdxEntry(), bad});
  EXPECT_THAT(ProblemsOf(manifest),
              ElementsAre("ReferenceValues.tdx[1].Rtmr: unknown field",
                          "ReferenceValues.tdx[1].MrTd: expected 48 bytes of hex, got 47",
                          "ReferenceValues.tdx[1].MrSeam: missing",
                          "ReferenceValues.tdx[1].Rtmrs[3]: expected 48 bytes of hex, got number 7",
                          AllOf(StartsWith("ReferenceValues.tdx[1].Xfam: expected 8 bytes of hex, got invalid hex")),
                          "ReferenceValues.tdx[1].SMTDisabled: expected true or false, got string \"no\"",
                          "ReferenceValues.tdx[1].TdAttributes: DEBUG (bit 0) must be clear: a debuggable TD is "
                          "never acceptable"));
  json three = TdxEntry();
  three["Rtmrs"].erase(3);
  manifest["ReferenceValues"]["tdx"] = json::array({three});
  EXPECT_THAT(ProblemsOf(manifest),
              ElementsAre("ReferenceValues.tdx[0].Rtmrs: expected an array of 4 hex strings (RTMR0..3), got an "
                          "array of 3"));
  json both = TdxEntry();
  both["Rtrms"] = both["Rtmrs"];
  manifest["ReferenceValues"]["tdx"] = json::array({both});
  EXPECT_THAT(ProblemsOf(manifest), ElementsAre(StartsWith("ReferenceValues.tdx[0].Rtrms: given together with Rtmrs")));
}

TEST(ManifestValidation, EmulatedCannotBeMixedWithRealPlatforms) {
  json manifest = ManifestJson();
  manifest["ReferenceValues"]["emulated"] = json::array({EmulatedEntry()});
  EXPECT_THAT(ProblemsOf(manifest),
              ElementsAre("ReferenceValues: emulated entries cannot be combined with real platforms"));
  manifest["ReferenceValues"].erase("snp");
  manifest["ReferenceValues"]["tdx"] = json::array({TdxEntry()});
  EXPECT_THAT(ProblemsOf(manifest),
              ElementsAre("ReferenceValues: emulated entries cannot be combined with real platforms"));
}

TEST(ManifestValidation, EmulatedEntryNeedsItsRoot) {
  json manifest = EmulatedManifestJson();
  manifest["ReferenceValues"]["emulated"][0].erase("EmulatedRootSHA256");
  EXPECT_THAT(ProblemsOf(manifest), ElementsAre("ReferenceValues.emulated[0].EmulatedRootSHA256: missing"));
  manifest["ReferenceValues"]["emulated"][0]["EmulatedRootSHA256"] = "abcd";
  EXPECT_THAT(ProblemsOf(manifest),
              ElementsAre("ReferenceValues.emulated[0].EmulatedRootSHA256: expected 64 hex characters (SHA-256 of "
                          "the emulated secure processor's ARK certificate DER), got 4 characters"));
  manifest = EmulatedManifestJson();
  manifest["ReferenceValues"]["emulated"][0]["MinimumTCB"].erase("TEEVersion");
  manifest["ReferenceValues"]["emulated"][0]["Colour"] = "red";
  EXPECT_THAT(ProblemsOf(manifest), ElementsAre("ReferenceValues.emulated[0].Colour: unknown field",
                                                "ReferenceValues.emulated[0].MinimumTCB.TEEVersion: missing"));
}

TEST(ManifestValidation, WorkloadOwnerKeyDigests) {
  json manifest = ManifestJson();
  const std::string digest = manifest["WorkloadOwnerKeyDigests"][0];
  manifest["WorkloadOwnerKeyDigests"] = {digest, digest.substr(2), std::string(64, 'x'), digest};
  EXPECT_THAT(ProblemsOf(manifest),
              ElementsAre("WorkloadOwnerKeyDigests[1]: expected 64 hex characters (SHA-256 of the key's SPKI DER), "
                          "got 62 characters",
                          "WorkloadOwnerKeyDigests[2]: expected 64 hex characters (SHA-256 of the key's SPKI DER), "
                          "got a non-hex character",
                          "WorkloadOwnerKeyDigests[3]: duplicate of WorkloadOwnerKeyDigests[0]"));
  manifest["WorkloadOwnerKeyDigests"] = digest;
  EXPECT_THAT(ProblemsOf(manifest), ElementsAre(StartsWith("WorkloadOwnerKeyDigests: expected an array")));
}

TEST(ManifestValidation, WorkloadOwnerPubKeysAreNotSupported) {
  json manifest = ManifestJson();
  manifest["WorkloadOwnerPubKeys"] = {HexEncode(TestKeys().owner_spki)};
  EXPECT_THAT(ProblemsOf(manifest), ElementsAre(StartsWith("WorkloadOwnerPubKeys: not supported")));
}

TEST(ManifestValidation, SeedshareOwnerPubKeys) {
  auto rsa1024 = [] {
    // A small RSA key built with EVP_PKEY_Q_keygen (kRsa2048 is the smallest
    // KeyType).
    crypto::EvpPkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{1024}));
    unsigned char* out = nullptr;
    const int length = i2d_PublicKey(key.get(), &out);
    crypto::OpensslBytesPtr owned(out);
    return Bytes(out, out + length);
  }();
  const Bytes& good = TestKeys().seedshare_der;
  Bytes trailing = good;
  trailing.push_back(0);
  json manifest = ManifestJson();
  manifest["SeedshareOwnerPubKeys"] = {HexEncode(good),
                                       "zz",
                                       HexEncode(TestKeys().seedshare_spki),
                                       HexEncode(TestKeys().owner_spki),
                                       HexEncode(trailing),
                                       HexEncode(rsa1024),
                                       HexEncode(good)};
  auto problems = ProblemsOf(manifest);
  ASSERT_THAT(problems, SizeIs(6));
  EXPECT_THAT(problems[0], StartsWith("SeedshareOwnerPubKeys[1]: expected hex of an RSA public key (PKCS#1 DER), got "
                                      "invalid hex"));
  EXPECT_THAT(problems[1], StartsWith("SeedshareOwnerPubKeys[2]: not an RSA public key in PKCS#1 DER"));
  EXPECT_THAT(problems[2], StartsWith("SeedshareOwnerPubKeys[3]: not an RSA public key in PKCS#1 DER"));
  EXPECT_EQ(problems[3], "SeedshareOwnerPubKeys[4]: 1 bytes after the PKCS#1 DER key");
  EXPECT_EQ(problems[4], "SeedshareOwnerPubKeys[5]: RSA key has 1024 bits, at least 2048 are required");
  EXPECT_EQ(problems[5], "SeedshareOwnerPubKeys[6]: duplicate of SeedshareOwnerPubKeys[0]");
}

TEST(ManifestValidation, SizeLimit) {
  std::string huge = ManifestJson().dump();
  huge.insert(1, kMaxManifestSize, ' ');
  EXPECT_THAT(ProblemsOfText(huge), ElementsAre(AllOf(StartsWith("manifest: is "), HasSubstr("more than the limit"))));
}

TEST(ManifestValidation, DepthLimit) {
  json manifest = ManifestJson();
  json deep = json::array();
  for (int i = 0; i < 100; ++i) deep = json::array({deep});
  manifest["ReferenceValues"]["tdx"] = {{{"Deep", deep}}};
  EXPECT_THAT(ProblemsOf(manifest),
              ElementsAre(AllOf(StartsWith("ReferenceValues.tdx[0].Deep[0][0]"), HasSubstr("nested deeper than 64"))));
  // Far deeper than any stack would hold if parsing recursed.
  EXPECT_THAT(ProblemsOfText(std::string(1'000'000, '[')), ElementsAre(HasSubstr("nested deeper than 64")));
}

TEST(ManifestValidation, ReportsEveryProblemAtOnce) {
  json manifest = ManifestJson();
  const std::string web = HashHex(kWebPolicy);
  manifest["Policies"][HashHex(kCoordinatorPolicy)].erase("Role");
  manifest["Policies"][web]["Role"] = "admin";
  manifest["Policies"]["3c1f"] = {{"SANs", {"x"}}};
  manifest["ReferenceValues"]["snp"][0]["MinimumTCB"].erase("SNPVersion");
  manifest["ReferenceValues"]["snp"][0]["GuestPolicy"]["Debug"] = true;
  manifest["ReferenceValues"]["sev"] = json::array();
  manifest["WorkloadOwnerKeyDigests"].push_back("00");
  manifest["Extra"] = 1;
  auto parsed = ParseManifest(manifest.dump());
  ASSERT_FALSE(parsed);
  EXPECT_EQ(parsed.error().code, ErrorCode::kParse);
  EXPECT_EQ(parsed.error().message,
            "Extra: unknown field (expected Policies, ReferenceValues, WorkloadOwnerKeyDigests or "
            "SeedshareOwnerPubKeys)\n"
            "Policies.3c1f: key must be 64 hex characters (SHA-256 of the policy document), got 4 characters\n"
            "Policies." +
                web +
                ".Role: expected \"coordinator\" or \"\", got string \"admin\"\n"
                "Policies: no policy has Role \"coordinator\"\n"
                "ReferenceValues.sev: unknown platform (expected snp, tdx or emulated)\n"
                "ReferenceValues.snp[0].MinimumTCB.SNPVersion: missing\n"
                "ReferenceValues.snp[0].GuestPolicy.Debug: must be false (a debuggable guest is never acceptable)\n"
                "WorkloadOwnerKeyDigests[1]: expected 64 hex characters (SHA-256 of the key's SPKI DER), got 2 "
                "characters");
}

TEST(ManifestValidation, CapsTheNumberOfProblemsListed) {
  json manifest = ManifestJson();
  for (int i = 0; i < 500; ++i) manifest["Policies"]["k" + std::to_string(i)] = {{"SANs", {"x"}}};
  auto problems = ProblemsOf(manifest);
  ASSERT_THAT(problems, SizeIs(attest::snp::kMaxReportedParseProblems + 1));
  EXPECT_EQ(problems.back(), "(400 more problems not shown)");
}

TEST(ManifestValidation, ValidateManifestChecksModels) {
  auto m = ParseManifest(ManifestJson().dump());
  ASSERT_TRUE(m);
  EXPECT_TRUE(ValidateManifest(*m));
  Manifest no_coordinator = *m;
  no_coordinator.policies.erase(PolicyHashOf(AsBytes(kCoordinatorPolicy)));
  auto status = ValidateManifest(no_coordinator);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().message, "Policies: no policy has Role \"coordinator\"");
  Manifest bad_utf8 = *m;
  bad_utf8.policies.begin()->second.sans.push_back("\xff");
  EXPECT_FALSE(ValidateManifest(bad_utf8));
  Manifest debug_tdx = *m;
  attest::tdx::TdxReferenceValues tdx;
  tdx.td_attributes = std::array<uint8_t, 8>{0x01};
  debug_tdx.reference_values.tdx.push_back(tdx);
  auto debug_status = ValidateManifest(debug_tdx);
  ASSERT_FALSE(debug_status);
  EXPECT_THAT(debug_status.error().message, HasSubstr("ReferenceValues.tdx[0].TdAttributes: DEBUG (bit 0)"));
}

// --- Hostile input never crashes. -------------------------------------------

TEST(ManifestRobustness, TruncationsAndByteFlipsNeverCrash) {
  const std::string text = SerializeManifest(*ParseManifest(ManifestJson().dump()));
  // Every proper prefix except the one missing only the trailing newline.
  for (size_t len = 0; len + 1 < text.size(); ++len) {
    EXPECT_FALSE(ParseManifest(std::string_view(text).substr(0, len))) << len;
  }
  for (size_t i = 0; i < text.size(); i += 7) {
    std::string copy = text;
    copy[i] = static_cast<char>(copy[i] ^ 0x80);
    (void)ParseManifest(copy);
    copy[i] = '"';
    (void)ParseManifest(copy);
  }
}

TEST(ManifestRobustness, WrongTypesHugeNumbersAndBadText) {
  const json values[] = {nullptr, true, -1, 1.5, "x", json::array(), json::object(), json::array({1, "a"})};
  const json base = ManifestJson();
  // Every value of every type at every path of the valid manifest.
  // Every value of every type at every path of the valid manifest (leaves
  // and the containers above them).
  std::set<std::string> paths;
  const json flat = base.flatten();
  for (auto it = flat.begin(); it != flat.end(); ++it) {
    for (json::json_pointer p(it.key()); !p.empty(); p = p.parent_pointer()) paths.insert(p.to_string());
  }
  for (const std::string& path : paths) {
    for (const json& v : values) {
      json mutated = base;
      mutated[json::json_pointer(path)] = v;
      EXPECT_FALSE(ParseManifest(mutated.dump()) && v.is_number_float()) << path;
    }
  }
  for (std::string_view text :
       {"", " ", "null", "1e999", "-1e999", "123456789012345678901234567890", "{\"Policies\": 1e999}",
        "{\"ReferenceValues\": {\"snp\": [{\"MinimumTCB\": {\"SNPVersion\": 1e400}}]}}",
        "{\"ReferenceValues\": {\"snp\": [{\"MinimumMitigationVector\": 18446744073709551616}]}}",
        "{\"Policies\": {\"\xff\xfe\": {}}}", "{\"a\":\"\\ud800\"}", "\xef\xbb\xbf{}", "{} {}", "{\"a\" 1}"}) {
    auto parsed = ParseManifest(text);
    EXPECT_FALSE(parsed) << text;
  }
  auto overflow = ProblemsOfText("{\"Policies\": 1e999}");
  EXPECT_THAT(overflow, ElementsAre(StartsWith("manifest: invalid JSON")));
}

}  // namespace
}  // namespace contrast::manifest
