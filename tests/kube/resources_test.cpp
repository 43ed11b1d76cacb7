// Reading Kubernetes YAML: files, documents, objects, workloads, ConfigMaps
// and Secrets, and writing back only what changed.
#include "kube/resources.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/files.h"
#include "kube/emit.h"
#include "kube/nodes.h"
#include "kube_test_util.h"

namespace contrast::kube {
namespace {

using testing::MustFindWorkloads;
using testing::MustParse;
using testing::MustRender;
using testing::ParseErrorOf;
using testing::TestdataPath;

std::string Concat(const InputFile& file) {
  std::string text;
  for (const Document& doc : file.documents) text += doc.text;
  return text;
}

// ---- Files ----

TEST(FindInputFiles, WalksDirectoriesRecursivelyInSortedOrder) {
  auto files = FindInputFiles({TestdataPath("tree")});
  ASSERT_TRUE(files) << files.error().message;
  std::vector<std::string> names;
  for (const auto& path : *files) names.push_back(path.lexically_relative(TestdataPath("tree")).generic_string());
  EXPECT_EQ(names, (std::vector<std::string>{"a.yml", "b.yaml", "sub/c.yml", "z.yml.d/e.yaml"}));
}

TEST(FindInputFiles, KeepsNamedFilesInOrderAndDropsDuplicates) {
  const std::string json = TestdataPath("tree/sub/d.json");
  const std::string b = TestdataPath("tree/b.yaml");
  auto files = FindInputFiles({json, b, TestdataPath("tree/../tree/b.yaml")});
  ASSERT_TRUE(files) << files.error().message;
  ASSERT_EQ(files->size(), 2u);
  EXPECT_EQ((*files)[0], json);  // a file named explicitly is read whatever its extension
  EXPECT_EQ((*files)[1], b);
}

TEST(FindInputFiles, MissingInputAndNoFilesAreErrors) {
  auto missing = FindInputFiles({TestdataPath("does-not-exist.yml")});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_NE(missing.error().message.find("does-not-exist.yml"), std::string::npos);

  const auto empty_dir = std::filesystem::temp_directory_path() / "contrast-kube-empty-dir";
  std::filesystem::create_directories(empty_dir);
  auto none = FindInputFiles({empty_dir});
  std::filesystem::remove_all(empty_dir);
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("no .yml/.yaml files"), std::string::npos);
}

TEST(FindInputFiles, SkipsDanglingSymlinks) {
  const auto dir = std::filesystem::temp_directory_path() / "contrast-kube-symlinks";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::filesystem::create_symlink(dir / "missing.yml", dir / "dangling.yml");
  ASSERT_TRUE(WriteFileAtomic(dir / "real.yml", std::string_view("a: 1\n")));
  auto files = FindInputFiles({dir});
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(files) << files.error().message;
  ASSERT_EQ(files->size(), 1u);
  EXPECT_EQ((*files)[0].filename(), "real.yml");
}

TEST(ReadInputs, ReadsEveryFileOfADirectory) {
  auto files = ReadInputs({TestdataPath("tree")});
  ASSERT_TRUE(files) << files.error().message;
  std::vector<std::string> names;
  for (const InputFile& file : *files) {
    ASSERT_EQ(file.objects.size(), 1u);
    names.push_back(file.objects[0].name);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"a", "b", "c", "z"}));
}

// ---- Documents ----

TEST(ParseInputFile, SplitsDocumentsKeepingEveryByte) {
  const std::string text =
      "---\n"
      "# first\n"
      "apiVersion: v1\n"
      "kind: ConfigMap\n"
      "metadata: {name: one}\n"
      "...\n"
      "# between documents\n"
      "---\n"
      "---   # empty, with a comment\n"
      "apiVersion: v1\n"
      "kind: ConfigMap\n"
      "metadata:\n"
      "  name: two\n"
      "data:\n"
      "  text: |\n"
      "    a --- b\n"
      "    --- not a marker: indented\n"
      "---\n"
      "apiVersion: v1\n"
      "kind: ConfigMap\n"
      "metadata:\n"
      "  name: three";  // no final newline
  InputFile file = MustParse(text);
  EXPECT_EQ(Concat(file), text);
  ASSERT_EQ(file.documents.size(), 5u);
  EXPECT_EQ(file.documents[0].first_line, 1u);
  EXPECT_EQ(file.documents[1].text, "# between documents\n");  // after `...`: comments only
  EXPECT_TRUE(file.documents[1].root.IsNull());
  EXPECT_EQ(file.documents[2].text, "---\n");
  EXPECT_TRUE(file.documents[2].root.IsNull());
  EXPECT_EQ(file.documents[3].first_line, 9u);
  EXPECT_EQ(file.documents[4].first_line, 18u);
  ASSERT_EQ(file.objects.size(), 3u);
  EXPECT_EQ(file.objects[0].name, "one");
  EXPECT_EQ(file.objects[0].line, 3u);
  EXPECT_EQ(file.objects[1].name, "two");
  EXPECT_EQ(file.objects[1].line, 10u);
  EXPECT_EQ(file.objects[1].where, "t.yml:10");
  EXPECT_EQ(file.objects[2].line, 19u);
  auto text_value = internal::Child(*internal::Child(file.objects[1].node, "data"), "text");
  ASSERT_TRUE(text_value);
  EXPECT_EQ(text_value->Scalar(), "a --- b\n--- not a marker: indented\n");
}

TEST(ParseInputFile, HandlesCrLfAndDirectives) {
  const std::string text = "%YAML 1.2\r\n---\r\napiVersion: v1\r\nkind: ConfigMap\r\nmetadata:\r\n  name: crlf\r\n";
  InputFile file = MustParse(text);
  EXPECT_EQ(Concat(file), text);
  ASSERT_EQ(file.documents.size(), 1u);
  ASSERT_EQ(file.objects.size(), 1u);
  EXPECT_EQ(file.objects[0].name, "crlf");
  EXPECT_EQ(file.objects[0].line, 3u);
}

TEST(ParseInputFile, EmptyFilesAndCommentOnlyFilesHaveNoObjects) {
  EXPECT_TRUE(MustParse("").objects.empty());
  InputFile comments = MustParse("# nothing here\n\n");
  EXPECT_TRUE(comments.objects.empty());
  EXPECT_EQ(Concat(comments), "# nothing here\n\n");
}

TEST(ParseInputFile, ReadsLargeDocuments) {
  const std::string value(512 * 1024, 'x');
  InputFile file = MustParse(
      "kind: A\napiVersion: v1\n---\n# large\nkind: ConfigMap\napiVersion: v1\nmetadata:\n  name: big\ndata:\n  v: " +
      value + "\n---\nkind: Pod\napiVersion: v1\n");
  ASSERT_EQ(file.objects.size(), 3u);
  EXPECT_EQ(file.objects[1].line, 5u);
  EXPECT_EQ(internal::Child(*internal::Child(file.objects[1].node, "data"), "v")->Scalar(), value);
  EXPECT_EQ(file.objects[2].line, 12u);
  EXPECT_EQ(ParseErrorOf("{kind: Pod, apiVersion: v1, x: " + value + "}, y\n"),
            "t.yml:1: more than one YAML document (check the indentation and separators)");
}

TEST(ParseInputFile, ReadsListItemsWithTheirLines) {
  auto text = ReadTextFile(TestdataPath("list.yml"));
  ASSERT_TRUE(text);
  InputFile file = MustParse(*text, "list.yml");
  ASSERT_EQ(file.objects.size(), 3u);
  EXPECT_EQ(file.objects[0].kind, "ConfigMap");
  EXPECT_EQ(file.objects[0].where, "list.yml:4");
  EXPECT_EQ(file.objects[1].kind, "Deployment");
  EXPECT_EQ(file.objects[1].where, "list.yml:10");
  EXPECT_EQ(file.objects[2].kind, "Service");
  EXPECT_EQ(file.objects[2].line, 24u);
  for (const Object& object : file.objects) EXPECT_EQ(object.document_index, 0u);
}

TEST(ParseInputFile, InvalidYamlNamesFileAndLine) {
  const std::string error = ParseErrorOf("apiVersion: v1\nkind: Pod\n---\napiVersion: v1\nkind: [Pod\n", "bad.yml");
  EXPECT_NE(error.find("bad.yml:"), std::string::npos) << error;
  EXPECT_NE(error.find("invalid YAML"), std::string::npos) << error;
  // The parser notices the unclosed flow sequence at the end of the document (line 5 or 6).
  EXPECT_TRUE(error.starts_with("bad.yml:5") || error.starts_with("bad.yml:6")) << error;

  const std::string tab = ParseErrorOf("apiVersion: v1\nkind: Pod\nspec:\n\tx: 1\n", "tab.yml");
  EXPECT_TRUE(tab.starts_with("tab.yml:4")) << tab;
}

TEST(ParseInputFile, BadShapesNameFileAndLine) {
  EXPECT_EQ(ParseErrorOf("---\n- a\n- b\n"), "t.yml:2: a document must be a map (a Kubernetes object)");
  EXPECT_EQ(ParseErrorOf("kind: Pod\napiVersion: v1\n---\nplain scalar\n"),
            "t.yml:4: a document must be a map (a Kubernetes object)");
  EXPECT_EQ(ParseErrorOf("apiVersion: v1\nmetadata: {}\n"), "t.yml:1: object has no kind");
  EXPECT_EQ(ParseErrorOf("# c\nkind: Pod\n"), "t.yml:2: object has no apiVersion");
  EXPECT_EQ(ParseErrorOf("kind: [Pod]\napiVersion: v1\n"), "t.yml:1: kind must be a string");
  EXPECT_EQ(ParseErrorOf("kind: Pod\napiVersion: v1\nmetadata: x\n"), "t.yml:3: metadata must be a map");
  EXPECT_EQ(ParseErrorOf("kind: Pod\napiVersion: v1\nmetadata:\n  name: {a: b}\n"), "t.yml:4: name must be a string");
  EXPECT_EQ(ParseErrorOf("kind: List\napiVersion: v1\nitems: x\n"), "t.yml:3: items of a List must be a list");
  EXPECT_EQ(ParseErrorOf("kind: List\napiVersion: v1\nitems:\n- kind: Pod\n  apiVersion: v1\n- 3\n"),
            "t.yml:6: a Kubernetes object must be a map");
  EXPECT_EQ(ParseErrorOf("kind: Pod\napiVersion: v1\nkind: Service\n"), "t.yml:3: duplicate key \"kind\"");
  EXPECT_EQ(ParseErrorOf("kind: Pod\napiVersion: v1\nx: {a: &y 1, b: 2, a: 3}\n"), "t.yml:3: duplicate key \"a\"");
  EXPECT_EQ(ParseErrorOf("kind: Pod\napiVersion: v1\nx:\n  ~: 1\n  null: 2\n"), "t.yml:5: duplicate key \"null\"");
}

// yaml-cpp's LoadAll never ends after a stray "," (it makes null documents
// until memory runs out); content after a document's root must be an error.
TEST(ParseInputFile, RejectsContentAfterTheDocument) {
  for (const char* text : {",\n", ", a\n", "[a], b\n", "{kind: Pod, apiVersion: v1},\n", "\"x\",\n", "!t ,\n", "&a ,\n",
                           "kind: Pod\napiVersion: v1\n... x\n", "  kind: Pod\n  apiVersion: v1\nb: 2\n"}) {
    SCOPED_TRACE(text);
    EXPECT_NE(ParseErrorOf(text), "");
  }
  EXPECT_EQ(ParseErrorOf("[a], b\n"), "t.yml:1: more than one YAML document (check the indentation and separators)");
  // Flow-style and indented roots are fine on their own.
  EXPECT_EQ(ParseErrorOf("{kind: Pod, apiVersion: v1}\n"), "");
  EXPECT_EQ(ParseErrorOf("  kind: Pod\n  apiVersion: v1\n"), "");
}

TEST(ParseInputFile, RejectsDeepNestingHugeInputAndNonUtf8) {
  std::string deep = "kind: Pod\napiVersion: v1\nx: ";
  for (int i = 0; i < 100; ++i) deep += "[";
  for (int i = 0; i < 100; ++i) deep += "]";
  EXPECT_EQ(ParseErrorOf(deep), "t.yml:3: nested deeper than 64 levels");
  // Also where aliases make the parser's events the check.
  EXPECT_EQ(ParseErrorOf("kind: Pod\napiVersion: v1\na: &x 1\nx: " + deep.substr(deep.find('['))),
            "t.yml:4: nested deeper than 64 levels");
  std::string block = "kind: Pod\napiVersion: v1\nx:\n";
  for (int i = 0; i < 70; ++i) block += std::string(static_cast<size_t>(2 * i + 2), ' ') + "k:\n";
  EXPECT_NE(ParseErrorOf(block).find("nested deeper than 64 levels"), std::string::npos);
  std::string very_deep(100000, '[');
  EXPECT_FALSE(ParseErrorOf(very_deep).empty());
  std::string ok = "kind: Pod\napiVersion: v1\nx: ";
  for (int i = 0; i < 63; ++i) ok += "[";
  for (int i = 0; i < 63; ++i) ok += "]";
  EXPECT_EQ(ParseErrorOf(ok), "");

  std::string nul = "kind: Pod\napiVersion: v1\nx: \"a";
  nul += '\0';
  nul += "b\"\n";
  EXPECT_EQ(ParseErrorOf(nul), "t.yml:3: not UTF-8 text");
  EXPECT_EQ(ParseErrorOf("\xFF\xFEk\0"), "t.yml:1: not UTF-8 text");
  std::string many = "kind: ConfigMap\napiVersion: v1\nx: [";
  for (size_t i = 0; i < kMaxNodesPerFile; ++i) many += "a,";
  many += "a]\n";
  EXPECT_EQ(ParseErrorOf(many), "t.yml:3: too many YAML nodes in one file");
  auto huge = ParseInputFile("big.yml", std::string(kMaxInputFileSize + 1, '#'));
  ASSERT_FALSE(huge);
  EXPECT_NE(huge.error().message.find("big.yml: larger than"), std::string::npos);
}

// ---- Workloads ----

TEST(FindWorkloads, FindsThePodTemplateOfEveryKind) {
  auto files = ReadInputs({TestdataPath("all-kinds.yml")});
  ASSERT_TRUE(files) << files.error().message;
  std::vector<PodTemplate> workloads = MustFindWorkloads(*files);
  ASSERT_EQ(workloads.size(), 8u);
  struct Expected {
    WorkloadKind kind;
    size_t line;
    std::string name;
  };
  const std::vector<Expected> expected = {
      {WorkloadKind::kPod, 2, "pod"},
      {WorkloadKind::kDeployment, 12, "deployment"},
      {WorkloadKind::kReplicaSet, 29, "replicaset"},
      {WorkloadKind::kReplicationController, 41, "replicationcontroller"},
      {WorkloadKind::kStatefulSet, 53, "statefulset"},
      {WorkloadKind::kDaemonSet, 66, "daemonset"},
      {WorkloadKind::kJob, 78, "job"},
      {WorkloadKind::kCronJob, 92, "cronjob"},
  };
  for (size_t i = 0; i < workloads.size(); ++i) {
    const PodTemplate& pod = workloads[i];
    SCOPED_TRACE(std::string(WorkloadKindName(pod.kind)));
    EXPECT_EQ(pod.kind, expected[i].kind);
    EXPECT_EQ(pod.line, expected[i].line);
    EXPECT_EQ(pod.name, expected[i].name);
    EXPECT_EQ(pod.document_index, i);
    EXPECT_TRUE(pod.confidential);
    EXPECT_EQ(pod.runtime_class_name, "contrast-cc");
    ASSERT_TRUE(pod.spec.IsMap());
    auto containers = internal::Child(pod.spec, "containers");
    ASSERT_TRUE(containers && containers->IsSequence());
    EXPECT_EQ(internal::Child((*containers)[0], "name")->Scalar(), "app");
    // The Pod's template is the object itself; the others are nested in it.
    EXPECT_EQ(pod.pod.Mark().line == pod.object.Mark().line, pod.kind == WorkloadKind::kPod);
  }
  EXPECT_EQ(workloads[1].ns, "web");
  EXPECT_EQ(workloads[1].Namespace(), "web");
  EXPECT_EQ(workloads[0].Namespace(), "default");
  EXPECT_EQ(internal::Child(*internal::Child(workloads[1].metadata, "labels"), "app")->Scalar(), "web");
  // A node's place in the file: the CronJob's container image is on line 106.
  auto cron_containers = *internal::Child(workloads[7].spec, "containers");
  EXPECT_EQ(workloads[7].Where(*internal::Child(cron_containers[0], "image")), TestdataPath("all-kinds.yml") + ":106");
}

TEST(FindWorkloads, TemplateNodesAliasTheDocument) {
  InputFile file = MustParse(
      "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  template:\n    spec:\n"
      "      runtimeClassName: contrast-cc\n      containers: []\n");
  std::vector<PodTemplate> workloads = MustFindWorkloads({file});
  ASSERT_EQ(workloads.size(), 1u);
  workloads[0].spec["hostname"] = "changed";
  auto spec = internal::Child(*internal::Child(*internal::Child(file.documents[0].root, "spec"), "template"), "spec");
  EXPECT_EQ(internal::Child(*spec, "hostname")->Scalar(), "changed");
  EXPECT_TRUE(DocumentChanged(file.documents[0]));
}

TEST(FindWorkloads, SelectsConfidentialRuntimeClasses) {
  for (const auto& [runtime_class, confidential] :
       std::vector<std::pair<std::string, bool>>{{"contrast-cc", true},
                                                 {"contrast-cc-metal-qemu-snp", true},
                                                 {"kata-cc-isolation", true},
                                                 {"contrast-ccx", false},
                                                 {"kata-qemu-snp", false},
                                                 {"runc", false},
                                                 {"\"\"", false}}) {
    SCOPED_TRACE(runtime_class);
    InputFile file =
        MustParse("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  runtimeClassName: " + runtime_class +
                  "\n  containers: []\n");
    std::vector<PodTemplate> workloads = MustFindWorkloads({file});
    ASSERT_EQ(workloads.size(), 1u);
    EXPECT_EQ(workloads[0].confidential, confidential);
    EXPECT_EQ(IsConfidentialRuntimeClass(workloads[0].runtime_class_name), confidential);
  }
  InputFile no_class = MustParse("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers: []\n");
  EXPECT_FALSE(MustFindWorkloads({no_class})[0].confidential);
}

TEST(FindWorkloads, SkipsObjectsThatAreNotWorkloadsOrHaveNoTemplate) {
  InputFile file = MustParse(
      "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n---\n"
      "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: no-spec}\n---\n"
      "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: no-template}\nspec: {replicas: 1}\n");
  EXPECT_TRUE(MustFindWorkloads({file}).empty());
}

TEST(FindWorkloads, DuplicateWorkloadsNameBothPlaces) {
  const std::string deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n";
  InputFile a = MustParse("# a\n" + deployment, "a.yml");
  InputFile b = MustParse(deployment + "  namespace: default\n", "b.yml");
  auto workloads = FindWorkloads({a, b});
  ASSERT_FALSE(workloads);
  EXPECT_EQ(workloads.error().message, "two workloads Deployment default/web: a.yml:2 and b.yml:1");
  // Another kind or namespace is another workload.
  InputFile c = MustParse("apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: web\n", "c.yml");
  InputFile d = MustParse(deployment + "  namespace: other\n", "d.yml");
  EXPECT_TRUE(FindWorkloads({a, c, d}));
}

TEST(FindWorkloads, MalformedConfidentialShapesNameFileAndLine) {
  const std::string head = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n";
  const std::string cc = "  template:\n    spec:\n      runtimeClassName: contrast-cc\n";
  auto error_of = [](const std::string& text) {
    auto workloads = FindWorkloads({MustParse(text)});
    return workloads ? std::string() : workloads.error().message;
  };
  EXPECT_EQ(error_of(head + "  template: 3\n"), "t.yml:6: spec.template must be a map");
  EXPECT_EQ(error_of(head + "  template:\n    spec: [a]\n"), "t.yml:7: pod spec must be a map");
  EXPECT_EQ(error_of(head + "  template:\n    metadata: 1\n    spec: {}\n"), "t.yml:7: pod metadata must be a map");
  EXPECT_EQ(error_of(head + cc + "      runtimeClassName2: x\n      containers: x\n"),
            "t.yml:10: spec.containers must be a list");
  EXPECT_EQ(error_of(head + cc + "      initContainers:\n      - 3\n"),
            "t.yml:10: spec.initContainers entries must be maps");
  EXPECT_EQ(error_of(head + cc + "      containers:\n      - name: a\n        env: {a: b}\n"),
            "t.yml:11: spec.containers.env must be a list");
  EXPECT_EQ(error_of(head + cc + "      containers:\n      - name: a\n        image: [x]\n"),
            "t.yml:11: spec.containers.image must be a string");
  EXPECT_EQ(error_of(head + cc + "      volumes:\n      - name: {a: b}\n"),
            "t.yml:10: spec.volumes.name must be a string");
  EXPECT_EQ(error_of(head + "  template:\n    metadata:\n      annotations:\n        a: {b: c}\n    spec:\n"
                            "      runtimeClassName: contrast-cc\n"),
            "t.yml:9: annotation a must be a string (quote it)");
  EXPECT_EQ(error_of(head + "  template:\n    metadata:\n      annotations:\n        a: true\n    spec:\n"
                            "      runtimeClassName: contrast-cc\n"),
            "t.yml:9: annotation a must be a string (quote it)");
  EXPECT_EQ(error_of(head + "  template:\n    spec:\n      runtimeClassName: [contrast-cc]\n"),
            "t.yml:8: runtimeClassName must be a string");
  // Workloads that are not confidential are not inspected beyond their runtime class.
  EXPECT_EQ(error_of(head + "  template:\n    spec:\n      containers: x\n"), "");
}

TEST(FindWorkloads, AliasesAreRefusedOnlyInConfidentialWorkloads) {
  const std::string plain =
      "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels: &l {a: b}\n"
      "  annotations: *l\nspec:\n  containers: []\n";
  InputFile file = MustParse(plain);
  EXPECT_TRUE(file.documents[0].has_aliases);
  EXPECT_TRUE(FindWorkloads({file}));
  EXPECT_EQ(MustRender(file), plain);
  auto cc = FindWorkloads({MustParse(plain + "  runtimeClassName: contrast-cc\n")});
  ASSERT_FALSE(cc);
  EXPECT_EQ(cc.error().message, "t.yml:1: YAML aliases (*name) are not supported in confidential workloads");
  // An alias cycle is read (yaml-cpp builds it), never walked.
  InputFile cycle = MustParse("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\nx: &a [*a]\n");
  EXPECT_TRUE(FindWorkloads({cycle}));
  EXPECT_FALSE(DocumentChanged(cycle.documents[0]));
}

// ---- ConfigMaps and Secrets ----

TEST(CollectConfigs, ReadsConfigMapsAndSecrets) {
  auto files = ReadInputs({TestdataPath("kustomize.yml"), TestdataPath("list.yml")});
  ASSERT_TRUE(files) << files.error().message;
  auto store = CollectConfigs(*files);
  ASSERT_TRUE(store) << store.error().message;
  const ConfigData* settings = store->FindConfigMap("", "settings");
  ASSERT_NE(settings, nullptr);
  EXPECT_EQ(settings->data.at("mode"), "production");
  EXPECT_EQ(store->FindConfigMap("default", "settings"), settings);
  EXPECT_EQ(store->FindConfigMap("shop", "settings"), nullptr);
  const ConfigData* secret = store->FindSecret("shop", "db-credentials");
  ASSERT_NE(secret, nullptr);
  EXPECT_EQ(secret->data.at("password"), "secret");
  EXPECT_EQ(secret->data.at("user"), "admin");
  EXPECT_EQ(secret->where, TestdataPath("kustomize.yml") + ":9");
  EXPECT_EQ(store->FindSecret("default", "db-credentials"), nullptr);
}

TEST(CollectConfigs, StringDataWinsAndBinaryDataIsIgnored) {
  InputFile file = MustParse(
      "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n"
      "data:\n  a: YQ==\n  b: Yg==\n  wrapped: |\n    aGVs\n    bG8=\n"
      "stringData:\n  b: from-string-data\n---\n"
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  n: 1\n  empty:\nbinaryData:\n  bin: AAEC\n");
  auto store = CollectConfigs({file});
  ASSERT_TRUE(store) << store.error().message;
  const ConfigData* secret = store->FindSecret("default", "s");
  ASSERT_NE(secret, nullptr);
  EXPECT_EQ(secret->data,
            (std::map<std::string, std::string>{{"a", "a"}, {"b", "from-string-data"}, {"wrapped", "hello"}}));
  const ConfigData* config = store->FindConfigMap("default", "c");
  ASSERT_NE(config, nullptr);
  EXPECT_EQ(config->data, (std::map<std::string, std::string>{{"n", "1"}, {"empty", ""}}));
}

TEST(CollectConfigs, ErrorsNameFileAndLine) {
  auto error_of = [](const std::string& text) {
    auto store = CollectConfigs({MustParse(text)});
    return store ? std::string() : store.error().message;
  };
  EXPECT_EQ(error_of("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata:\n  a: not*base64\n"),
            "t.yml:5: data.a is not valid base64");
  EXPECT_EQ(error_of("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  a: [1]\n"),
            "t.yml:5: data.a must be a string");
  EXPECT_EQ(error_of("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: [1]\n"),
            "t.yml:4: data must be a map");
  EXPECT_EQ(error_of("apiVersion: v1\nkind: ConfigMap\ndata: {}\n"), "t.yml:1: ConfigMap has no metadata.name");
  EXPECT_EQ(error_of("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\n"
                     "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: default}\n"),
            "two ConfigMaps default/c: t.yml:1 and t.yml:5");
  // A ConfigMap and a Secret may share a name.
  EXPECT_EQ(error_of("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\n"
                     "apiVersion: v1\nkind: Secret\nmetadata: {name: c}\n"),
            "");
}

// ---- Writing back ----

TEST(RenderFile, UntouchedFilesAreByteForByte) {
  for (const char* name : {"all-kinds.yml", "kustomize.yml", "list.yml"}) {
    auto text = ReadTextFile(TestdataPath(name));
    ASSERT_TRUE(text);
    InputFile file = MustParse(*text, name);
    auto rendered = RenderFile(file);
    ASSERT_TRUE(rendered) << rendered.error().message;
    EXPECT_FALSE(rendered->changed) << name;
    EXPECT_EQ(rendered->text, *text) << name;
  }
}

TEST(RenderFile, RewritesOnlyTheChangedDocument) {
  auto text = ReadTextFile(TestdataPath("kustomize.yml"));
  ASSERT_TRUE(text);
  InputFile file = MustParse(*text, "kustomize.yml");
  std::vector<PodTemplate> workloads = MustFindWorkloads({file});
  ASSERT_EQ(workloads.size(), 2u);
  ASSERT_TRUE(workloads[0].confidential);
  ASSERT_FALSE(workloads[1].confidential);
  workloads[0].spec["hostname"] = internal::StringNode("front");
  auto rendered = RenderFile(file);
  ASSERT_TRUE(rendered) << rendered.error().message;
  EXPECT_TRUE(rendered->changed);
  // Every other document is unchanged, byte for byte.
  const std::string& out = rendered->text;
  const size_t changed = workloads[0].document_index;
  for (size_t i = 0; i < file.documents.size(); ++i) {
    if (i != changed) {
      EXPECT_NE(out.find(file.documents[i].text), std::string::npos) << i;
    }
  }
  EXPECT_TRUE(out.starts_with(file.documents[0].text + file.documents[1].text + file.documents[2].text));
  EXPECT_TRUE(out.ends_with(file.documents[4].text));
  // The rewritten document keeps its `---` line and reads back with the change.
  InputFile again = MustParse(out, "kustomize.yml");
  ASSERT_EQ(again.documents.size(), file.documents.size());
  EXPECT_TRUE(again.documents[changed].text.starts_with("---\napiVersion: apps/v1\n"));
  EXPECT_TRUE(Equal(again.documents[changed].root, file.documents[changed].root));
  EXPECT_NE(again.documents[changed].text.find("      hostname: front\n"), std::string::npos);
  // The literal block survives as a literal block.
  EXPECT_NE(again.documents[changed].text.find("        - |\n          while true; do\n            date\n"),
            std::string::npos)
      << again.documents[changed].text;
  // Rendering the re-read file is a fixed point.
  EXPECT_EQ(MustRender(again), out);
}

TEST(RenderFile, KeepsLeadingCommentsMarkersAndLineEndings) {
  InputFile file = MustParse(
      "# header\r\n--- # doc\r\n# about it\r\napiVersion: v1\r\nkind: ConfigMap\r\nmetadata: {name: c}  # inline\r\n"
      "...\r\n");
  file.objects[0].node["data"] = internal::StringNode("x");
  EXPECT_EQ(MustRender(file),
            "# header\r\n--- # doc\r\n# about it\r\napiVersion: v1\r\nkind: ConfigMap\r\nmetadata:\r\n  name: c\r\n"
            "data: x\r\n...\r\n");
  InputFile inline_start = MustParse("--- {apiVersion: v1, kind: ConfigMap, metadata: {name: c}}\n");
  inline_start.objects[0].node["data"] = YAML::Node(YAML::NodeType::Map);
  EXPECT_EQ(MustRender(inline_start), "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata: {}\n");
}

TEST(RenderFile, ChangingBackRestoresTheOriginalBytes) {
  const std::string text = "apiVersion: v1 # c\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: \"1\"}\n";
  InputFile file = MustParse(text);
  YAML::Node data = *internal::Child(file.objects[0].node, "data");
  data["a"] = internal::StringNode("2");
  EXPECT_NE(MustRender(file), text);
  data["a"] = internal::StringNode("1");
  EXPECT_EQ(MustRender(file), text);
}

}  // namespace
}  // namespace contrast::kube
