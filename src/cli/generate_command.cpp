// `contrast generate`: flags and help.
#include <CLI/CLI.hpp>

#include "cli/generate.h"

namespace contrast::cli {

void AddGenerateCommand(CLI::App& app, std::function<int()>& run, std::ostream& out, std::ostream& err) {
  auto c = std::make_shared<GenerateCommand>();
  CLI::App* cmd = app.add_subcommand(
      "generate",
      "Make Kubernetes workloads confidential: inject the Initializer, pin images, write each pod's Kata agent "
      "policy as an annotation, and write manifest.json");
  cmd->footer(
      "Workloads whose runtimeClassName is contrast-cc (or contrast-cc-*, or kata-cc-isolation) are made\n"
      "confidential; every other object is left byte for byte as it was. Files are changed in place (or written\n"
      "to --output), each atomically, after everything has been computed; a second run changes nothing.\n"
      "Pod template annotations honoured: contrast.edgeless.systems/pod-role: coordinator (manifest Role, no\n"
      "Initializer), contrast.edgeless.systems/skip-initializer: \"true\",\n"
      "contrast.edgeless.systems/workload-secret-id: ID (default <group|core>/<version>/<Kind>/<namespace>/<name>).\n"
      "Keys: the workload owner keys (-w) may update the manifest later; the seed-share owner keys\n"
      "(--add-seedshare-owner-key) receive the Coordinator's seed, encrypted, when the first manifest is set\n"
      "(`contrast set` writes seed-shares.json) and can recover a restarted Coordinator (`contrast recover`).\n"
      "SeedshareOwnerPubKeys cannot change after the first manifest is set. Keys that do not exist are created\n"
      "(mode 0600) beside the manifest; existing keys and manifest entries are kept.");
  cmd->add_option("PATHS", c->inputs, "YAML files and directories (searched recursively for *.yml, *.yaml)")
      ->required();
  cmd->add_option("--workspace-dir", c->workspace, "Where manifest.json and the owner keys are by default")
      ->capture_default_str();
  cmd->add_option("-m,--manifest", c->manifest, "Manifest to create or update (default: <workspace>/manifest.json)");
  cmd->add_option("-o,--output", c->output, "Write all objects to this one file instead of changing the inputs");
  cmd->add_option("--reference-values", c->reference_values,
                  "\"emulated\" (the emulated platform: development only) or a JSON file with a ReferenceValues "
                  "object ({\"snp\": [...]}); default: keep the existing manifest's");
  cmd->add_option("--emulated-state-dir", c->emulated_state_dir,
                  "With --reference-values emulated: the state directory of `contrast emulate serve` (default "
                  "$CONTRAST_EMULATED_STATE_DIR)");
  cmd->add_option("--emulated-measurement", c->emulated_measurement,
                  "With --reference-values emulated: the launch measurement, 96 hex characters (default zero, as "
                  "`contrast emulate run`)");
  auto* owner = cmd->add_option("-w,--add-workload-owner-key", c->workload_owner_keys,
                                "Workload owner key (PKCS#8 PEM, EC P-384) allowed to update the manifest; created "
                                "(mode 0600) if it does not exist (default: <workspace>/workload-owner.pem)");
  auto* seedshare = cmd->add_option("--add-seedshare-owner-key", c->seedshare_owner_keys,
                                    "[FILE] Seed-share owner key (RSA, PKCS#8 or PKCS#1 PEM) that receives a share of "
                                    "the Coordinator's seed (SeedshareOwnerPubKeys); created (RSA-4096, PKCS#8, mode "
                                    "0600) if it does not exist (default FILE: <workspace>/seedshare-owner.pem). "
                                    "Repeatable. Put it after the inputs or write --add-seedshare-owner-key=FILE");
  seedshare->expected(0, 1)->allow_extra_args(false)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_flag("-d,--disable-updates", c->disable_updates,
                "List no workload owner key: the manifest can never be updated (immutable deployment)")
      ->excludes(owner);
  auto* initializer_image =
      cmd->add_option("--initializer-image", c->initializer_image, "The Initializer image to inject")
          ->capture_default_str();
  cmd->add_option("--images", c->images_file,
                  "images.json of scripts/images: inject its pinned Initializer and run its pinned Coordinator "
                  "(the image of container \"coordinator\" in the workload marked as the Coordinator)")
      ->excludes(initializer_image);
  cmd->add_flag("--skip-initializer", c->skip_initializer, "Inject no Initializer into any workload");
  cmd->add_flag("--legacy-policy-annotation", c->legacy_policy_annotation,
                "Attach policies as io.katacontainers.config.agent.policy (base64 of the policy; runtimes of 2024) "
                "instead of the initdata annotation io.katacontainers.config.hypervisor.cc_init_data");
  cmd->add_option("--settings", c->settings, "Policy generator settings (JSON, docs/policies.md); default: built in");
  cmd->add_option_function<std::vector<std::string>>(
      "--registry-mirror",
      [c](const std::vector<std::string>& values) {
        for (const std::string& value : values) {
          const size_t eq = value.find('=');
          if (eq == std::string::npos || eq == 0 || eq + 1 == value.size()) {
            throw CLI::ValidationError("--registry-mirror", "expected HOST=MIRROR, got \"" + value + "\"");
          }
          c->registry_mirrors[value.substr(0, eq)] = value.substr(eq + 1);
        }
      },
      "HOST=MIRROR[/PREFIX]: fetch images of registry HOST from MIRROR; references keep the original names "
      "(repeatable)");
  cmd->add_option("--insecure-registry", c->insecure_registries,
                  "Reach this registry over plain HTTP (loopback registries always are; repeatable)");
  cmd->add_option("--image-layout", c->image_layouts,
                  "OCI image-layout directory searched before any registry, by each image's ref.name annotation "
                  "(repeatable)");
  cmd->add_option("--cache-dir", c->cache_dir,
                  "Image cache (default $CONTRAST_CACHE_DIR, else $XDG_CACHE_HOME/contrast, else ~/.cache/contrast)");
  cmd->add_flag("--offline", c->offline, "Use only the image cache and image layouts; never contact a registry");
  cmd->add_flag("-q,--quiet", c->quiet, "Print only warnings and errors");
  cmd->callback([&run, c, seedshare, &out, &err] {
    // A bare --add-seedshare-owner-key names the default key (an empty path).
    if (seedshare->count() > c->seedshare_owner_keys.size()) c->seedshare_owner_keys.emplace_back();
    run = [c, &out, &err] { return RunGenerate(*c, out, err); };
  });
}

}  // namespace contrast::cli
