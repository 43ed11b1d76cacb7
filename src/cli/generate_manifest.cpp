// The manifest half of `contrast generate`: which policies, reference values
// and owner keys the new manifest holds.
#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include "attest/emulated/secure_processor.h"
#include "cli/generate.h"
#include "common/files.h"
#include "crypto/hash.h"

namespace contrast::cli {
namespace {

// Parses a ReferenceValues object (or a whole manifest holding one) with the
// manifest's own rules, so every problem is reported with its JSON path.
Result<manifest::ReferenceValues> ParseReferenceValuesFile(const std::filesystem::path& path) {
  auto text = ReadTextFile(path, manifest::kMaxManifestSize);
  if (!text) return Fail(text.error().Wrap("reference values"));
  nlohmann::json value = nlohmann::json::parse(*text, nullptr, false);
  if (value.is_discarded() || !value.is_object()) {
    return Fail(ErrorCode::kParse, path.string() + ": not a JSON object");
  }
  if (value.contains("ReferenceValues")) value = value["ReferenceValues"];
  // A stand-in manifest around the values: only its ReferenceValues problems count.
  nlohmann::json wrapper = {
      {"Policies", {{std::string(64, '0'), {{"SANs", nlohmann::json::array()}, {"Role", "coordinator"}}}}},
      {"ReferenceValues", value}};
  auto parsed = manifest::ParseManifestReportingProblems(wrapper.dump());
  if (!parsed) {
    std::string problems;
    for (const std::string& problem : parsed.error()) problems += "\n  " + problem;
    return Fail(ErrorCode::kParse, path.string() +
                                       ": the reference values are incomplete or invalid (real platforms need the "
                                       "values you measured for your nodes; fill in every field listed):" +
                                       problems);
  }
  return parsed->reference_values;
}

}  // namespace

Result<manifest::ReferenceValues> EmulatedReferenceValuesFor(const std::filesystem::path& state_dir,
                                                             std::string_view measurement_hex) {
  auto sp = attest::emulated::SecureProcessor::Load(state_dir);
  if (!sp) return Fail(sp.error().Wrap("the emulated secure processor in " + state_dir.string()));
  attest::emulated::InsecureEmulatedReferenceValues entry;
  entry.root_sha256 = crypto::Sha256(sp->ark_der());
  entry.snp.platform = "Emulated-SNP";
  entry.snp.product = sp->product();
  entry.snp.minimum_tcb = sp->tcb();
  entry.snp.guest_policy.smt = true;
  entry.snp.platform_info.smt_enabled = true;
  // The emulated root publishes no CRL, so a verifier has nothing to check
  // revocation against unless one is configured.
  entry.snp.allow_missing_revocation_check = true;
  if (!measurement_hex.empty()) {
    auto measurement = HexDecode(measurement_hex);
    if (!measurement || measurement->size() != entry.snp.trusted_measurement.size()) {
      return Fail(ErrorCode::kInvalidArgument, "--emulated-measurement: expected 96 hex characters (48 bytes)");
    }
    std::copy(measurement->begin(), measurement->end(), entry.snp.trusted_measurement.begin());
  }
  manifest::ReferenceValues values;
  values.emulated.push_back(std::move(entry));
  return values;
}

Result<manifest::ReferenceValues> LoadReferenceValues(const GenerateCommand& command) {
  if (*command.reference_values == "emulated") {
    std::optional<std::filesystem::path> state_dir = command.emulated_state_dir;
    if (!state_dir) {
      if (const char* env = std::getenv("CONTRAST_EMULATED_STATE_DIR"); env != nullptr && *env != '\0') {
        state_dir = env;
      }
    }
    if (!state_dir) {
      return Fail(ErrorCode::kInvalidArgument,
                  "--reference-values emulated needs the emulator's state: --emulated-state-dir DIR (or "
                  "CONTRAST_EMULATED_STATE_DIR), the directory of `contrast emulate init` / `emulate serve`");
    }
    return EmulatedReferenceValuesFor(*state_dir, command.emulated_measurement);
  }
  return ParseReferenceValuesFile(*command.reference_values);
}

Error NoCoordinatorError() {
  return Error{ErrorCode::kInvalidArgument,
               "no Coordinator among the confidential workloads: add the Coordinator's resources (deploy/"
               "coordinator.yml, whose pod template is annotated contrast.edgeless.systems/pod-role: coordinator) "
               "to the inputs"};
}

Error NoReferenceValuesError() {
  return Error{ErrorCode::kInvalidArgument,
               "no reference values: pass --reference-values emulated (the emulated platform, development only) "
               "or --reference-values FILE (a ReferenceValues JSON object with the values measured for your "
               "platform)"};
}

Result<manifest::Manifest> BuildManifest(const ManifestInputs& inputs) {
  manifest::Manifest out;
  std::map<manifest::PolicyHash, const GeneratedPolicy*> owners;
  bool has_coordinator = false;
  for (const GeneratedPolicy& policy : inputs.policies) {
    if (auto [it, inserted] = owners.emplace(policy.hash, &policy); !inserted) {
      return Fail(ErrorCode::kInvalidArgument,
                  "two workloads have the same policy (digest " + policy.hash.Hex() + "): " + it->second->workload +
                      " and " + policy.workload +
                      ". They would be indistinguishable to the Coordinator; make them differ (for example in a "
                      "label or annotation of the pod template) or remove one");
    }
    manifest::PolicyEntry entry;
    entry.sans = {policy.name, "*"};
    entry.workload_secret_id = policy.workload_secret_id;
    entry.role = policy.role;
    // An existing entry of the same workload keeps the SANs a user may have
    // edited; everything else is regenerated.
    if (inputs.existing) {
      for (const auto& [hash, existing] : inputs.existing->policies) {
        if (!existing.workload_secret_id.empty() && existing.workload_secret_id == entry.workload_secret_id &&
            existing.role == entry.role && !existing.sans.empty()) {
          entry.sans = existing.sans;
          break;
        }
      }
    }
    has_coordinator = has_coordinator || policy.role == manifest::Role::kCoordinator;
    out.policies.emplace(policy.hash, std::move(entry));
  }
  if (!has_coordinator) {
    return Fail(NoCoordinatorError());
  }

  if (inputs.reference_values) {
    out.reference_values = *inputs.reference_values;
  } else if (inputs.existing) {
    out.reference_values = inputs.existing->reference_values;
  } else {
    return Fail(NoReferenceValuesError());
  }

  if (!inputs.disable_updates) {
    std::set<crypto::Sha256Digest> digests(inputs.workload_owner_key_digests.begin(),
                                           inputs.workload_owner_key_digests.end());
    if (inputs.existing) {
      digests.insert(inputs.existing->workload_owner_key_digests.begin(),
                     inputs.existing->workload_owner_key_digests.end());
    }
    out.workload_owner_key_digests.assign(digests.begin(), digests.end());
  }
  if (inputs.existing) out.seedshare_owner_pub_keys = inputs.existing->seedshare_owner_pub_keys;
  const std::set<Bytes> added(inputs.seedshare_owner_pub_keys.begin(), inputs.seedshare_owner_pub_keys.end());
  for (const Bytes& key : added) {
    if (std::find(out.seedshare_owner_pub_keys.begin(), out.seedshare_owner_pub_keys.end(), key) ==
        out.seedshare_owner_pub_keys.end()) {
      out.seedshare_owner_pub_keys.push_back(key);
    }
  }

  if (auto valid = manifest::ValidateManifest(out); !valid) return Fail(valid.error().Wrap("the new manifest"));
  return out;
}

}  // namespace contrast::cli
