// Patching confidential pod templates: the Initializer, its volume and the
// annotations that change what is injected; every patch is idempotent.
#include "kube/patch.h"

#include <gtest/gtest.h>

#include "common/files.h"
#include "kube/emit.h"
#include "kube/nodes.h"
#include "kube/resources.h"
#include "kube_test_util.h"

namespace contrast::kube {
namespace {

using internal::Child;
using testing::MustFindWorkloads;
using testing::MustParse;
using testing::MustRender;
using testing::TestdataPath;

PatchOptions Options() {
  PatchOptions options;
  options.initializer_image = "ghcr.io/example/contrast/initializer:v1@sha256:abcd";
  options.coordinator_host = "coordinator-ready.default";
  return options;
}

std::string Deployment(const std::string& template_metadata, const std::string& spec_body) {
  return "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n" + template_metadata +
         "    spec:\n      runtimeClassName: contrast-cc\n" + spec_body;
}

const std::string kTwoContainers =
    "      initContainers:\n"
    "      - name: setup\n"
    "        image: busybox:1.36\n"
    "      containers:\n"
    "      - name: web # the app\n"
    "        image: nginx:1.25\n"
    "        volumeMounts:\n"
    "        - name: data\n"
    "          mountPath: /data\n"
    "      - name: sidecar\n"
    "        image: busybox:1.36\n"
    "      volumes:\n"
    "      - name: data\n"
    "        emptyDir: {}\n";

struct Patched {
  InputFile file;
  PodTemplate pod;
  Result<PatchResult> result;
};

Patched PatchText(const std::string& text, const PatchOptions& options = Options()) {
  InputFile file = MustParse(text);
  std::vector<PodTemplate> workloads = MustFindWorkloads({file});
  EXPECT_EQ(workloads.size(), 1u);
  if (workloads.empty()) return {file, PodTemplate{}, Fail(ErrorCode::kInternal, "no workload")};
  PodTemplate pod = workloads[0];
  auto result = PatchPodTemplate(pod, options);
  return {file, pod, result};
}

// The names of a list of maps.
std::vector<std::string> Names(const YAML::Node& spec, std::string_view field) {
  std::vector<std::string> names;
  auto list = Child(spec, field);
  if (!list) return names;
  for (const YAML::Node& item : *list) names.push_back(Child(item, "name")->Scalar());
  return names;
}

std::vector<std::string> MountPaths(const YAML::Node& container) {
  std::vector<std::string> paths;
  auto mounts = Child(container, "volumeMounts");
  if (!mounts) return paths;
  for (const YAML::Node& mount : *mounts)
    paths.push_back(Child(mount, "name")->Scalar() + ":" + Child(mount, "mountPath")->Scalar());
  return paths;
}

TEST(PatchPodTemplate, InjectsTheInitializerItsVolumeAndMounts) {
  PatchOptions options = Options();
  options.extra_env = {{"CONTRAST_EXPECTED_POLICY", "ab12"}, {"SECOND", "2"}};
  Patched p = PatchText(Deployment("", kTwoContainers), options);
  ASSERT_TRUE(p.result) << p.result.error().message;
  EXPECT_EQ(p.result->initializer, InitializerState::kInjected);
  EXPECT_TRUE(p.result->changed);
  EXPECT_EQ(Names(p.pod.spec, "initContainers"), (std::vector<std::string>{"contrast-initializer", "setup"}));
  EXPECT_EQ(Names(p.pod.spec, "volumes"), (std::vector<std::string>{"data", "contrast-secrets"}));
  const std::string rendered = MustRender(p.file);
  EXPECT_EQ(rendered,
            "apiVersion: apps/v1\n"
            "kind: Deployment\n"
            "metadata:\n"
            "  name: web\n"
            "spec:\n"
            "  template:\n"
            "    spec:\n"
            "      runtimeClassName: contrast-cc\n"
            "      initContainers:\n"
            "      - name: contrast-initializer\n"
            "        image: ghcr.io/example/contrast/initializer:v1@sha256:abcd\n"
            "        env:\n"
            "        - name: COORDINATOR_HOST\n"
            "          value: coordinator-ready.default\n"
            "        - name: CONTRAST_EXPECTED_POLICY\n"
            "          value: ab12\n"
            "        - name: SECOND\n"
            "          value: \"2\"\n"
            "        volumeMounts:\n"
            "        - name: contrast-secrets\n"
            "          mountPath: /contrast\n"
            "        resources:\n"
            "          limits:\n"
            "            memory: 50Mi\n"
            "          requests:\n"
            "            memory: 50Mi\n"
            "      - name: setup\n"
            "        image: busybox:1.36\n"
            "        volumeMounts:\n"
            "        - name: contrast-secrets\n"
            "          mountPath: /contrast\n"
            "      containers:\n"
            "      - name: web\n"
            "        image: nginx:1.25\n"
            "        volumeMounts:\n"
            "        - name: data\n"
            "          mountPath: /data\n"
            "        - name: contrast-secrets\n"
            "          mountPath: /contrast\n"
            "      - name: sidecar\n"
            "        image: busybox:1.36\n"
            "        volumeMounts:\n"
            "        - name: contrast-secrets\n"
            "          mountPath: /contrast\n"
            "      volumes:\n"
            "      - name: data\n"
            "        emptyDir: {}\n"
            "      - name: contrast-secrets\n"
            "        emptyDir:\n"
            "          medium: Memory\n");
}

// patch → write → read → patch → write gives the same bytes, for every kind.
TEST(PatchPodTemplate, IsIdempotentThroughWriteAndRead) {
  for (const char* name : {"all-kinds.yml", "kustomize.yml", "list.yml"}) {
    SCOPED_TRACE(name);
    auto text = ReadTextFile(TestdataPath(name));
    ASSERT_TRUE(text);
    std::string previous = *text;
    for (int round = 0; round < 3; ++round) {
      InputFile file = MustParse(previous, name);
      bool changed = false;
      for (PodTemplate& pod : MustFindWorkloads({file})) {
        if (!pod.confidential) continue;
        auto result = PatchPodTemplate(pod, Options());
        ASSERT_TRUE(result) << result.error().message;
        changed = changed || result->changed;
        // What the policy step does: annotate, pin the image.
        ASSERT_TRUE(SetPodAnnotation(pod, "io.katacontainers.config.hypervisor.cc_init_data", "H4sIAAAA"));
        auto containers = Child(pod.spec, "containers");
        ASSERT_TRUE(containers);
        const std::string first = Child((*containers)[0], "name")->Scalar();
        ASSERT_TRUE(SetContainerImage(pod, first, "nginx:1.25@sha256:0123"));
      }
      EXPECT_EQ(changed, round == 0);
      auto rendered = RenderFile(file);
      ASSERT_TRUE(rendered) << rendered.error().message;
      EXPECT_EQ(rendered->changed, round == 0);
      if (round > 0) {
        EXPECT_EQ(rendered->text, previous);
      }
      previous = rendered->text;
    }
  }
}

TEST(PatchPodTemplate, PatchesThePodItselfForKindPod) {
  Patched p = PatchText(
      "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  runtimeClassName: kata-cc-isolation\n"
      "  containers:\n  - name: app\n    image: x\n");
  ASSERT_TRUE(p.result) << p.result.error().message;
  auto spec = Child(p.file.documents[0].root, "spec");
  EXPECT_EQ(Names(*spec, "initContainers"), (std::vector<std::string>{"contrast-initializer"}));
  EXPECT_EQ(MountPaths((*Child(*spec, "containers"))[0]), (std::vector<std::string>{"contrast-secrets:/contrast"}));
}

TEST(PatchPodTemplate, ReplacesAnOlderInitializerAndPutsItFirst) {
  Patched p = PatchText(Deployment("",
                                   "      initContainers:\n"
                                   "      - name: setup\n"
                                   "        image: busybox\n"
                                   "      - name: contrast-initializer\n"
                                   "        image: old-initializer:v0\n"
                                   "      containers:\n"
                                   "      - name: app\n"
                                   "        image: x\n"));
  ASSERT_TRUE(p.result) << p.result.error().message;
  EXPECT_EQ(Names(p.pod.spec, "initContainers"), (std::vector<std::string>{"contrast-initializer", "setup"}));
  const YAML::Node first = (*Child(p.pod.spec, "initContainers"))[0];
  EXPECT_EQ(Child(first, "image")->Scalar(), Options().initializer_image);
  // Patching again changes nothing, also with the re-read document.
  auto again = PatchPodTemplate(p.pod, Options());
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->changed);
  const std::string once = MustRender(p.file);
  InputFile reread = MustParse(once);
  PodTemplate pod = MustFindWorkloads({reread})[0];
  auto third = PatchPodTemplate(pod, Options());
  ASSERT_TRUE(third);
  EXPECT_FALSE(third->changed);
  EXPECT_FALSE(DocumentChanged(reread.documents[0]));
  // A new image updates it.
  PatchOptions newer = Options();
  newer.initializer_image = "initializer:v2";
  auto updated = PatchPodTemplate(pod, newer);
  ASSERT_TRUE(updated);
  EXPECT_TRUE(updated->changed);
  EXPECT_EQ(Child((*Child(pod.spec, "initContainers"))[0], "image")->Scalar(), "initializer:v2");
}

TEST(PatchPodTemplate, DoesNotMountTwice) {
  Patched p = PatchText(Deployment("",
                                   "      containers:\n"
                                   "      - name: app\n"
                                   "        image: x\n"
                                   "        volumeMounts:\n"
                                   "        - name: contrast-secrets\n"
                                   "          mountPath: /contrast/\n"
                                   "      volumes:\n"
                                   "      - name: contrast-secrets\n"
                                   "        emptyDir:\n"
                                   "          medium: Memory\n"));
  ASSERT_TRUE(p.result) << p.result.error().message;
  EXPECT_EQ(MountPaths((*Child(p.pod.spec, "containers"))[0]),
            (std::vector<std::string>{"contrast-secrets:/contrast/"}));
  EXPECT_EQ(Names(p.pod.spec, "volumes"), (std::vector<std::string>{"contrast-secrets"}));
}

TEST(PatchPodTemplate, ExistingSecretsVolumeMustBeAnEmptyDirInMemory) {
  Patched disk = PatchText(Deployment("",
                                      "      containers: []\n"
                                      "      volumes:\n"
                                      "      - name: contrast-secrets\n"
                                      "        emptyDir:\n"
                                      "          sizeLimit: 1Mi\n"));
  ASSERT_TRUE(disk.result) << disk.result.error().message;
  auto empty_dir = Child((*Child(disk.pod.spec, "volumes"))[0], "emptyDir");
  EXPECT_EQ(Child(*empty_dir, "sizeLimit")->Scalar(), "1Mi");
  EXPECT_EQ(Child(*empty_dir, "medium")->Scalar(), "Memory");

  Patched null_dir = PatchText(Deployment("", "      volumes:\n      - name: contrast-secrets\n        emptyDir:\n"));
  ASSERT_TRUE(null_dir.result) << null_dir.result.error().message;
  EXPECT_EQ(Child(*Child((*Child(null_dir.pod.spec, "volumes"))[0], "emptyDir"), "medium")->Scalar(), "Memory");

  Patched host = PatchText(Deployment("",
                                      "      volumes:\n"
                                      "      - name: contrast-secrets\n"
                                      "        hostPath:\n"
                                      "          path: /tmp\n"));
  ASSERT_FALSE(host.result);
  EXPECT_EQ(host.result.error().message,
            "t.yml:10: volume contrast-secrets must be an emptyDir: Contrast keeps the workload's secrets in it");
}

TEST(PatchPodTemplate, AnotherVolumeAtTheMountPathIsAnError) {
  Patched p = PatchText(Deployment("",
                                   "      containers:\n"
                                   "      - name: app\n"
                                   "        volumeMounts:\n"
                                   "        - name: mine\n"
                                   "          mountPath: /contrast\n"));
  ASSERT_FALSE(p.result);
  EXPECT_EQ(p.result.error().message,
            "t.yml:12: container app mounts volume mine at /contrast, where Contrast mounts contrast-secrets");
}

TEST(PatchPodTemplate, KeepsAUserAddedInitializer) {
  const std::string text = Deployment("",
                                      "      initContainers:\n"
                                      "      - name: initializer\n"
                                      "        image: \"ghcr.io/edgelesssys/contrast/initializer:latest\"\n"
                                      "        env:\n"
                                      "        - name: COORDINATOR_HOST\n"
                                      "          value: coordinator\n"
                                      "        volumeMounts:\n"
                                      "        - name: tls-certs\n"
                                      "          mountPath: /tls-config\n"
                                      "      containers:\n"
                                      "      - name: app\n"
                                      "        image: x\n"
                                      "      volumes:\n"
                                      "      - name: tls-certs\n"
                                      "        emptyDir: {}\n");
  Patched p = PatchText(text);
  ASSERT_TRUE(p.result) << p.result.error().message;
  EXPECT_EQ(p.result->initializer, InitializerState::kUserProvided);
  EXPECT_EQ(p.result->user_initializer_name, "initializer");
  EXPECT_EQ(p.result->user_initializer_volume, "tls-certs");
  EXPECT_FALSE(p.result->changed);
  EXPECT_EQ(MustRender(p.file), text);
}

TEST(PatchPodTemplate, HonoursTheCoordinatorRoleAndSkipAnnotation) {
  const std::string body = "      containers:\n      - name: app\n        image: x\n";
  for (const auto& [annotation, state] : std::vector<std::pair<std::string, InitializerState>>{
           {"contrast.edgeless.systems/pod-role: coordinator", InitializerState::kCoordinator},
           {"contrast.edgeless.systems/skip-initializer: \"true\"", InitializerState::kSkippedByAnnotation},
       }) {
    SCOPED_TRACE(annotation);
    const std::string text = Deployment("    metadata:\n      annotations:\n        " + annotation + "\n", body);
    Patched p = PatchText(text);
    ASSERT_TRUE(p.result) << p.result.error().message;
    EXPECT_EQ(p.result->initializer, state);
    EXPECT_FALSE(p.result->changed);
    EXPECT_EQ(MustRender(p.file), text);
  }
  Patched coordinator = PatchText(
      Deployment("    metadata:\n      annotations:\n        contrast.edgeless.systems/pod-role: coordinator\n", body));
  EXPECT_EQ(coordinator.result->annotations.role, "coordinator");

  Patched not_skipped = PatchText(Deployment(
      "    metadata:\n      annotations:\n        contrast.edgeless.systems/skip-initializer: \"false\"\n", body));
  ASSERT_TRUE(not_skipped.result);
  EXPECT_EQ(not_skipped.result->initializer, InitializerState::kInjected);
  EXPECT_FALSE(not_skipped.result->annotations.skip_initializer);
}

TEST(PatchPodTemplate, MalformedAnnotationsNameFileAndLine) {
  const std::string body = "      containers: []\n";
  Patched yes = PatchText(Deployment(
      "    metadata:\n      annotations:\n        contrast.edgeless.systems/skip-initializer: \"yes\"\n", body));
  ASSERT_FALSE(yes.result);
  EXPECT_EQ(
      yes.result.error().message,
      "t.yml:9: annotation contrast.edgeless.systems/skip-initializer must be \"true\" or \"false\", not \"yes\"");
  Patched empty = PatchText(Deployment(
      "    metadata:\n      annotations:\n        contrast.edgeless.systems/workload-secret-id: \"\"\n", body));
  ASSERT_FALSE(empty.result);
  EXPECT_EQ(empty.result.error().message,
            "t.yml:9: annotation contrast.edgeless.systems/workload-secret-id must not be empty");
}

TEST(PatchPodTemplate, ReportsTheWorkloadSecretId) {
  Patched p = PatchText(Deployment(
      "    metadata:\n      annotations:\n        contrast.edgeless.systems/workload-secret-id: shop/frontend\n",
      "      containers: []\n"));
  ASSERT_TRUE(p.result) << p.result.error().message;
  EXPECT_EQ(p.result->annotations.workload_secret_id, "shop/frontend");
  Patched none = PatchText(Deployment("", "      containers: []\n"));
  ASSERT_TRUE(none.result);
  EXPECT_FALSE(none.result->annotations.workload_secret_id);
  EXPECT_EQ(none.result->annotations.role, "");
}

TEST(SetPodAnnotation, CreatesMetadataAndAnnotationsAndIsIdempotent) {
  InputFile file = MustParse(Deployment("", "      containers: []\n"));
  PodTemplate pod = MustFindWorkloads({file})[0];
  ASSERT_TRUE(SetPodAnnotation(pod, "io.katacontainers.config.agent.policy", "cG9saWN5"));
  ASSERT_TRUE(SetPodAnnotation(pod, "number", "1"));
  EXPECT_EQ(GetPodAnnotation(pod, "io.katacontainers.config.agent.policy"), "cG9saWN5");
  EXPECT_EQ(GetPodAnnotation(pod, "missing"), std::nullopt);
  const std::string rendered = MustRender(file);
  EXPECT_NE(rendered.find("  template:\n    spec:\n"), std::string::npos);
  EXPECT_NE(rendered.find("    metadata:\n      annotations:\n        io.katacontainers.config.agent.policy: cG9saWN5\n"
                          "        number: \"1\"\n"),
            std::string::npos)
      << rendered;
  InputFile reread = MustParse(rendered);
  PodTemplate again = MustFindWorkloads({reread})[0];
  ASSERT_TRUE(SetPodAnnotation(again, "io.katacontainers.config.agent.policy", "cG9saWN5"));
  ASSERT_TRUE(SetPodAnnotation(again, "number", "1"));
  EXPECT_FALSE(DocumentChanged(reread.documents[0]));
}

TEST(SetContainerImage, SetsTheImageOfANamedContainer) {
  InputFile file = MustParse(Deployment("", kTwoContainers));
  PodTemplate pod = MustFindWorkloads({file})[0];
  ASSERT_TRUE(SetContainerImage(pod, "setup", "busybox:1.36@sha256:aa"));
  ASSERT_TRUE(SetContainerImage(pod, "sidecar", "busybox:1.36@sha256:bb"));
  EXPECT_EQ(Child((*Child(pod.spec, "initContainers"))[0], "image")->Scalar(), "busybox:1.36@sha256:aa");
  EXPECT_EQ(Child((*Child(pod.spec, "containers"))[1], "image")->Scalar(), "busybox:1.36@sha256:bb");
  auto missing = SetContainerImage(pod, "nope", "x");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(missing.error().message, "t.yml:1: no container named nope");
}

TEST(DefaultWorkloadSecretId, UsesGroupVersionKindNamespaceAndName) {
  PodTemplate pod;
  pod.kind = WorkloadKind::kPod;
  pod.api_version = "v1";
  pod.name = "db";
  EXPECT_EQ(DefaultWorkloadSecretId(pod), "core/v1/Pod/default/db");
  pod.kind = WorkloadKind::kDeployment;
  pod.api_version = "apps/v1";
  pod.ns = "shop";
  pod.name = "web";
  EXPECT_EQ(DefaultWorkloadSecretId(pod), "apps/v1/Deployment/shop/web");
  pod.kind = WorkloadKind::kCronJob;
  pod.api_version = "batch/v1";
  EXPECT_EQ(DefaultWorkloadSecretId(pod), "batch/v1/CronJob/shop/web");
}

}  // namespace
}  // namespace contrast::kube
