// Fuzz target: Kubernetes YAML through `generate`'s kube/ steps: read a file,
// find its workloads, patch the confidential ones, write it back. Invariants
// (trap on violation): no crash; an unchanged file is written byte for byte;
// the written text reads back to equal trees; patching and writing the
// re-read file again gives the same bytes.
#include <cstdint>
#include <string>

#include "kube/emit.h"
#include "kube/patch.h"
#include "kube/resources.h"

namespace {

using namespace contrast::kube;

PatchOptions Options() {
  PatchOptions options;
  options.initializer_image = "ghcr.io/example/initializer:v1@sha256:00";
  options.coordinator_host = "coordinator-ready.default";
  options.extra_env = {{"EXTRA", "1"}};
  return options;
}

// Patches every confidential workload as `generate` does; false when an
// error stops it (the file would then not be written).
bool PatchAll(InputFile& file) {
  auto workloads = FindWorkloads({file});
  if (!workloads) return false;
  for (PodTemplate& pod : *workloads) {
    if (!pod.confidential) continue;
    if (!PatchPodTemplate(pod, Options())) return false;
    if (!SetPodAnnotation(pod, "io.katacontainers.config.hypervisor.cc_init_data", "H4sI")) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto file = ParseInputFile("fuzz.yml", text);
  if (!file) return 0;
  if (!PatchAll(*file)) return 0;
  auto rendered = RenderFile(*file);
  if (!rendered) {
    // Refusing to write what would read differently is allowed; reaching
    // that check is not.
    if (rendered.error().code == contrast::ErrorCode::kInternal) __builtin_trap();
    return 0;
  }
  if (!rendered->changed) {
    if (rendered->text != text) __builtin_trap();
    return 0;
  }

  auto again = ParseInputFile("fuzz.yml", rendered->text);
  if (!again || again->documents.size() != file->documents.size()) __builtin_trap();
  for (size_t i = 0; i < again->documents.size(); ++i) {
    const Document& before = file->documents[i];
    const Document& after = again->documents[i];
    if (before.has_aliases != after.has_aliases) __builtin_trap();
    if (before.has_aliases ? before.text != after.text : !Equal(before.root, after.root)) __builtin_trap();
  }

  if (!PatchAll(*again)) __builtin_trap();
  auto second = RenderFile(*again);
  if (!second || second->changed || second->text != rendered->text) __builtin_trap();
  return 0;
}
