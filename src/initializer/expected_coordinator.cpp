#include "initializer/expected_coordinator.h"

#include <algorithm>
#include <exception>

#include <nlohmann/json.hpp>

#include "attestation_policy/reference_values.h"

namespace contrast::initializer {
namespace {

using nlohmann::json;

Error Invalid(std::string_view variable, const std::string& message) {
  return Error{ErrorCode::kInvalidArgument, std::string(variable) + ": " + message};
}

Result<std::vector<manifest::PolicyHash>> ParsePolicyHashes(std::string_view text) {
  const std::string_view name = kCoordinatorPolicyHashesEnv;
  if (text.empty()) return Fail(Invalid(name, "empty (expected comma-separated SHA-256 policy digests in hex)"));
  std::vector<manifest::PolicyHash> hashes;
  size_t start = 0;
  for (;;) {
    const size_t comma = text.find(',', start);
    const std::string_view item = text.substr(start, comma == std::string_view::npos ? text.npos : comma - start);
    if (hashes.size() == kMaxCoordinatorPolicyHashes) {
      return Fail(Invalid(name, "more than " + std::to_string(kMaxCoordinatorPolicyHashes) + " digests"));
    }
    auto hash = manifest::PolicyHash::FromHex(item);
    if (!hash) {
      return Fail(Invalid(name, "item " + std::to_string(hashes.size() + 1) +
                                    ": expected 64 hex characters (the "
                                    "SHA-256 of the Coordinator's policy), got \"" +
                                    std::string(item.substr(0, 80)) + (item.size() > 80 ? "...\"" : "\"")));
    }
    if (std::find(hashes.begin(), hashes.end(), *hash) != hashes.end()) {
      return Fail(Invalid(name, hash->Hex() + " is listed twice"));
    }
    hashes.push_back(*hash);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  std::sort(hashes.begin(), hashes.end());
  return hashes;
}

// The reference values through the manifest's parser: a manifest of the
// Coordinator's policies and these reference values. `text` must be a
// single JSON value on its own, so splicing it in cannot add members.
Result<manifest::Manifest> ParseAsManifest(const std::vector<manifest::PolicyHash>& hashes, std::string_view text) {
  const std::string_view name = kCoordinatorReferenceValuesEnv;
  if (text.empty()) return Fail(Invalid(name, "empty (expected the manifest's ReferenceValues object as JSON)"));
  if (text.size() > kMaxCoordinatorReferenceValuesSize) {
    return Fail(Invalid(name, std::to_string(text.size()) + " bytes, more than the limit of " +
                                  std::to_string(kMaxCoordinatorReferenceValuesSize)));
  }
  bool one_value = false;
  try {
    one_value = json::accept(text.begin(), text.end());
  } catch (const std::exception&) {
    one_value = false;
  }
  if (!one_value) return Fail(Invalid(name, "not valid JSON"));
  std::string document = "{\"Policies\": {";
  for (size_t i = 0; i < hashes.size(); ++i) {
    document += (i == 0 ? "\"" : ", \"") + hashes[i].Hex() + "\": {\"Role\": \"coordinator\"}";
  }
  document += "}, \"ReferenceValues\": ";
  document += text;
  document += "}";
  auto parsed = manifest::ParseManifestReportingProblems(document);
  if (!parsed) {
    std::string message;
    for (const std::string& problem : parsed.error()) message += "\n  " + problem;
    return Fail(Invalid(name, "invalid reference values:" + message));
  }
  return std::move(*parsed);
}

}  // namespace

std::vector<std::pair<std::string, std::string>> ExpectedCoordinatorEnv(
    std::vector<manifest::PolicyHash> hashes, const manifest::ReferenceValues& reference_values) {
  std::sort(hashes.begin(), hashes.end());
  hashes.erase(std::unique(hashes.begin(), hashes.end()), hashes.end());
  std::string joined;
  for (const manifest::PolicyHash& hash : hashes) joined += (joined.empty() ? "" : ",") + hash.Hex();
  // The manifest's canonical form of the reference values, compact and with
  // sorted keys: the same inputs always give the same text.
  manifest::Manifest carrier;
  carrier.reference_values = reference_values;
  const json serialized = json::parse(manifest::SerializeManifest(carrier));
  return {{kCoordinatorPolicyHashesEnv, joined},
          {kCoordinatorReferenceValuesEnv, serialized.at("ReferenceValues").dump()}};
}

Result<ExpectedCoordinator> ParseExpectedCoordinator(std::string_view policy_hashes,
                                                     std::string_view reference_values) {
  auto hashes = ParsePolicyHashes(policy_hashes);
  if (!hashes) return Fail(hashes.error());
  auto carrier = ParseAsManifest(*hashes, reference_values);
  if (!carrier) return Fail(carrier.error());
  ExpectedCoordinator expected;
  expected.policy_hashes = std::move(*hashes);
  expected.reference_values = attestation_policy::CoordinatorReferenceValues(*carrier);
  expected.insecure = carrier->insecure();
  return expected;
}

std::string DescribePolicyHashes(const std::vector<manifest::PolicyHash>& hashes) {
  std::string out;
  for (const manifest::PolicyHash& hash : hashes) out += (out.empty() ? "" : ", ") + hash.Hex();
  return out;
}

}  // namespace contrast::initializer
