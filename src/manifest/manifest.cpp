// The manifest model, its canonical serialisation and SAN classification.
// Parsing and validation are in manifest_parse.cpp.
#include "manifest/manifest.h"

#include <arpa/inet.h>

#include <algorithm>
#include <iterator>

#include <nlohmann/json.hpp>

namespace contrast::manifest {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

// Key order of the canonical form inside reference value entries: upstream's
// field order (SNP entry, MinimumTCB, GuestPolicy, PlatformInfo, TDX entry),
// then our additions. Keys not listed follow in lexicographic order.
constexpr std::string_view kEntryKeyOrder[] = {
    // SNP entry.
    "Platform", "ProductName", "TrustedMeasurement", "MinimumTCB", "GuestPolicy", "PlatformInfo",
    "MinimumMitigationVector", "AllowedChipIDs", "TrustedHostData", "TrustedIDKeyDigests", "MinimumReportVersion",
    "RequiredVMPL", "PermitProvisionalFirmware", "EmulatedRootSHA256",
    // MinimumTCB.
    "BootloaderVersion", "TEEVersion", "SNPVersion", "MicrocodeVersion", "FMCVersion",
    // GuestPolicy.
    "ABIMinor", "ABIMajor", "SMT", "MigrateMA", "Debug", "SingleSocket", "CXLAllowed", "MemAES256XTS", "RAPLDis",
    "CipherTextHidingDRAM", "PageSwapDisable",
    // PlatformInfo.
    "SMTEnabled", "TSMEEnabled", "ECCEnabled", "RAPLDisabled", "CiphertextHidingDRAMEnabled", "AliasCheckComplete",
    "TIOEnabled",
    // TDX entry.
    "MinTCBEvaluationDataNumber", "MrTd", "MrSeam", "Rtmrs", "Xfam", "AllowedPIIDs", "MemoryIntegrity", "SMTDisabled",
    "StaticPlatform"};

size_t KeyRank(std::string_view key) {
  return static_cast<size_t>(std::find(std::begin(kEntryKeyOrder), std::end(kEntryKeyOrder), key) -
                             std::begin(kEntryKeyOrder));
}

// `value` with its object keys in canonical order. nlohmann::json iterates
// keys lexicographically, so the result does not depend on input order.
ordered_json Canonical(const json& value) {
  if (value.is_object()) {
    std::vector<std::string> keys;
    for (auto it = value.begin(); it != value.end(); ++it) keys.push_back(it.key());
    std::stable_sort(keys.begin(), keys.end(),
                     [](const std::string& a, const std::string& b) { return KeyRank(a) < KeyRank(b); });
    ordered_json out = ordered_json::object();
    for (const std::string& key : keys) out[key] = Canonical(value.at(key));
    return out;
  }
  if (value.is_array()) {
    ordered_json out = ordered_json::array();
    for (const json& element : value) out.push_back(Canonical(element));
    return out;
  }
  return ordered_json(value);
}

ordered_json PolicyEntryJson(const PolicyEntry& entry) {
  ordered_json out = ordered_json::object();
  out["SANs"] = entry.sans;
  if (!entry.workload_secret_id.empty()) out["WorkloadSecretID"] = entry.workload_secret_id;
  if (entry.role == Role::kCoordinator) out["Role"] = "coordinator";
  return out;
}

ordered_json ReferenceValuesJson(const ReferenceValues& rv) {
  ordered_json out = ordered_json::object();
  if (!rv.snp.empty()) {
    ordered_json& list = out["snp"] = ordered_json::array();
    for (const auto& entry : rv.snp) list.push_back(Canonical(attest::snp::SnpReferenceValuesToJson(entry)));
  }
  if (!rv.tdx.empty()) {
    ordered_json& list = out["tdx"] = ordered_json::array();
    for (const auto& entry : rv.tdx) list.push_back(Canonical(attest::tdx::TdxReferenceValuesToJson(entry)));
  }
  if (!rv.emulated.empty()) {
    ordered_json& list = out["emulated"] = ordered_json::array();
    for (const auto& entry : rv.emulated) {
      json snp = attest::snp::SnpReferenceValuesToJson(entry.snp);
      snp["EmulatedRootSHA256"] = HexEncode(entry.root_sha256);
      list.push_back(Canonical(snp));
    }
  }
  return out;
}

bool SameSnp(const attest::snp::SnpReferenceValues& a, const attest::snp::SnpReferenceValues& b) {
  // The JSON form is lossless (ReadSnpReferenceValues round-trips it) and
  // stays complete when fields are added to the struct.
  return attest::snp::SnpReferenceValuesToJson(a) == attest::snp::SnpReferenceValuesToJson(b);
}

// RFC 3986 scheme followed by "://".
bool HasUriScheme(std::string_view san) {
  const size_t colon = san.find("://");
  if (colon == std::string_view::npos || colon == 0) return false;
  const auto is_alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  if (!is_alpha(san[0])) return false;
  return std::all_of(san.begin() + 1, san.begin() + static_cast<std::ptrdiff_t>(colon),
                     [&](char c) { return is_alpha(c) || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'; });
}

}  // namespace

Result<PolicyHash> PolicyHash::FromHex(std::string_view hex) {
  if (hex.size() != 2 * PolicyHash{}.bytes.size()) {
    return Fail(ErrorCode::kParse, "policy hash must be 64 hex characters, got " + std::to_string(hex.size()));
  }
  auto bytes = HexDecode(hex);
  if (!bytes) return Fail(bytes.error().Wrap("policy hash"));
  PolicyHash out;
  std::copy(bytes->begin(), bytes->end(), out.bytes.begin());
  return out;
}

std::string PolicyHash::Hex() const { return HexEncode(bytes); }

PolicyHash PolicyHashOf(ByteView policy_document) { return PolicyHash{crypto::Sha256(policy_document)}; }

crypto::Sha256Digest ManifestHash(ByteView manifest_bytes) { return crypto::Sha256(manifest_bytes); }

const PolicyEntry* Manifest::FindPolicy(const PolicyHash& hash) const {
  const auto it = policies.find(hash);
  return it == policies.end() ? nullptr : &it->second;
}

std::vector<PolicyHash> Manifest::CoordinatorPolicyHashes() const {
  std::vector<PolicyHash> out;
  for (const auto& [hash, entry] : policies) {
    if (entry.role == Role::kCoordinator) out.push_back(hash);
  }
  return out;
}

bool Manifest::HasWorkloadOwnerKey(ByteView spki_der) const {
  const crypto::Sha256Digest digest = crypto::Sha256(spki_der);
  return std::find(workload_owner_key_digests.begin(), workload_owner_key_digests.end(), digest) !=
         workload_owner_key_digests.end();
}

bool operator==(const ReferenceValues& a, const ReferenceValues& b) {
  return a.tdx == b.tdx && a.emulated == b.emulated &&
         std::equal(a.snp.begin(), a.snp.end(), b.snp.begin(), b.snp.end(), SameSnp);
}

bool operator==(const Manifest& a, const Manifest& b) {
  return a.policies == b.policies && a.reference_values == b.reference_values &&
         a.workload_owner_key_digests == b.workload_owner_key_digests &&
         a.seedshare_owner_pub_keys == b.seedshare_owner_pub_keys;
}

std::string SerializeManifest(const Manifest& manifest) {
  ordered_json root = ordered_json::object();
  ordered_json& policies = root["Policies"] = ordered_json::object();
  for (const auto& [hash, entry] : manifest.policies) policies[hash.Hex()] = PolicyEntryJson(entry);
  root["ReferenceValues"] = ReferenceValuesJson(manifest.reference_values);
  ordered_json& digests = root["WorkloadOwnerKeyDigests"] = ordered_json::array();
  for (const auto& digest : manifest.workload_owner_key_digests) digests.push_back(HexEncode(digest));
  ordered_json& seedshare = root["SeedshareOwnerPubKeys"] = ordered_json::array();
  for (const auto& key : manifest.seedshare_owner_pub_keys) seedshare.push_back(HexEncode(key));
  // Invalid UTF-8 (only possible in a Manifest built in code) is replaced
  // rather than thrown; ValidateManifest reports the difference.
  return root.dump(2, ' ', /*ensure_ascii=*/false, ordered_json::error_handler_t::replace) + "\n";
}

Status ValidateManifest(const Manifest& manifest) {
  auto parsed = ParseManifest(SerializeManifest(manifest));
  if (!parsed) return Fail(ErrorCode::kInvalidArgument, parsed.error().message);
  if (*parsed != manifest) {
    return Fail(ErrorCode::kInvalidArgument, "manifest: changes when serialised (a string holds invalid UTF-8)");
  }
  return {};
}

SanKind ClassifySan(std::string_view san) {
  // inet_pton needs a C string; an embedded NUL must not cut off a suffix.
  if (san.find('\0') == std::string_view::npos) {
    const std::string text(san);
    in_addr v4{};
    in6_addr v6{};
    if (inet_pton(AF_INET, text.c_str(), &v4) == 1 || inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
      return SanKind::kIp;
    }
  }
  return HasUriScheme(san) ? SanKind::kUri : SanKind::kDns;
}

}  // namespace contrast::manifest
