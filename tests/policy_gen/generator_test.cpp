// Unit tests of policy generation: settings, the pieces (regex escaping,
// image names, $(VAR) expansion, users), generated policy data, errors, and
// the initdata/legacy attachment.
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/policy_commands.h"
#include "common/bytes.h"
#include "crypto/hash.h"
#include "policy/gen/generator.h"
#include "policy/gen/settings_internal.h"
#include "policy/gen/values.h"
#include "policy/rego/agent.h"
#include "policy_gen/pod_yaml.h"
#include "policy_gen/test_images.h"

namespace contrast::policy::gen {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The policy_data JSON of a generated policy.
json PolicyData(const std::string& text) {
  auto at = text.find("\npolicy_data := ");
  EXPECT_NE(at, std::string::npos);
  return json::parse(text.substr(at + 16));
}

Result<PodPolicy> Generate(const std::string& yaml, const kube::ConfigStore& configs = {},
                           const GeneratorOptions& options = {}) {
  static const testing::TestImageLookup images;
  return GeneratePodPolicy(testing::PodFromYaml(yaml, "pod.yaml"), images.AsFunction(), configs, options);
}

constexpr const char* kBusyboxPod = R"yaml(apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: shop
spec:
  containers:
    - name: app
      image: quay.io/prometheus/busybox:latest
)yaml";

TEST(Settings, BuiltInSettingsAndRulesAreValid) {
  const Settings& settings = DefaultSettings();
  (void)settings;
  EXPECT_THAT(std::string(DefaultRules()), HasSubstr("package agent_policy"));
  // The rules alone compile (policy_data is added per pod).
  auto loaded = rego::AgentPolicy::Load(std::string(DefaultRules()) + "\npolicy_data := {}\n");
  EXPECT_TRUE(loaded) << loaded.error().message;
}

TEST(Settings, EveryProblemIsReported) {
  auto parsed = ParseSettings(R"({"format": "contrast-policy-settings/v1", "oci_version": 1, "sandbox": []})");
  ASSERT_FALSE(parsed);
  EXPECT_THAT(parsed.error().message, HasSubstr("settings.oci_version: must be a string"));
  EXPECT_THAT(parsed.error().message, HasSubstr("settings.sandbox: must be an object"));
  EXPECT_THAT(parsed.error().message, HasSubstr("settings.root_path: missing"));
  EXPECT_THAT(parsed.error().message, HasSubstr("settings.volumes: missing"));
  EXPECT_FALSE(ParseSettings("not json"));
  EXPECT_FALSE(ParseSettings(R"({"format": "genpolicy"})"));
}

TEST(Settings, UserSettingsAreUsed) {
  auto doc = json::parse(std::string(DefaultSettingsJson()));
  doc["request_defaults"]["ExecProcessRequest"]["allowed_commands"] = json::array({json::array({"/bin/date"})});
  auto settings = ParseSettings(doc.dump());
  ASSERT_TRUE(settings) << settings.error().message;
  GeneratorOptions options;
  options.settings = settings->get();
  auto policy = Generate(kBusyboxPod, {}, options);
  ASSERT_TRUE(policy) << policy.error().message;
  EXPECT_EQ(PolicyData(policy->text)["request_defaults"]["ExecProcessRequest"]["allowed_commands"][0][0], "/bin/date");
}

TEST(Values, RegexEscape) {
  EXPECT_EQ(RegexEscape("a.b*c(d)[e]{f}|g^h$i+j?k\\l"), "a\\.b\\*c\\(d\\)\\[e\\]\\{f\\}\\|g\\^h\\$i\\+j\\?k\\\\l");
  EXPECT_EQ(RegexEscape("plain-name_1"), "plain-name_1");
}

TEST(Values, ImageNamesAsTheRuntimeReportsThem) {
  auto nginx = ParseImageName("nginx");
  ASSERT_TRUE(nginx);
  EXPECT_EQ(nginx->name, "docker.io/library/nginx");
  EXPECT_EQ(nginx->tag, "latest");
  auto pinned =
      ParseImageName("localhost:5000/a/b:1.0@sha256:3d380ca8864549e74af4b29c10f9cb0956236dfb01c40ca076fb6c37253234db");
  ASSERT_TRUE(pinned);
  EXPECT_EQ(pinned->name, "localhost:5000/a/b");
  EXPECT_EQ(pinned->tag, "1.0");
  EXPECT_EQ(pinned->digest, "sha256:3d380ca8864549e74af4b29c10f9cb0956236dfb01c40ca076fb6c37253234db");
  auto digest_only =
      ParseImageName("registry.k8s.io/pause@sha256:3d380ca8864549e74af4b29c10f9cb0956236dfb01c40ca076fb6c37253234db");
  ASSERT_TRUE(digest_only);
  EXPECT_EQ(digest_only->tag, "");
  EXPECT_FALSE(ParseImageName("Upper/Case"));
  EXPECT_FALSE(ParseImageName("nginx@sha256:short"));
  EXPECT_FALSE(ParseImageName("nginx:bad/tag:"));
  EXPECT_FALSE(ParseImageName(""));
}

TEST(Values, KubernetesVariableExpansion) {
  std::map<std::string, Text> vars = {{"A", LiteralText("x")}, {"POD", PatternText("web-[a-z]{5}")}};
  EXPECT_EQ(JoinLiteral(ExpandVariables("$(A)-$(B)-$$(A)-$$-$x-$(", vars)), "x-$(B)-$(A)-$-$x-$(");
  Text dynamic = ExpandVariables("name=$(POD).", vars);
  EXPECT_FALSE(IsLiteral(dynamic));
  EXPECT_EQ(JoinAsRegex(dynamic), "name=(?:web-[a-z]{5})\\.");
}

TEST(Values, PasswdAndGroup) {
  auto passwd = ParsePasswd("root:x:0:0::/:/bin/sh\nbad line\n# comment\nu:x:1000:100::/:/bin/sh\r\nneg:x:-1:0::\n");
  ASSERT_EQ(passwd.size(), 2u);
  EXPECT_EQ(passwd[1].name, "u");
  EXPECT_EQ(passwd[1].gid, 100);
  auto groups = ParseGroup("wheel:x:10:root,u\nempty:x:11:\nbroken\n");
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_THAT(groups[0].members, ElementsAre("root", "u"));
  EXPECT_FALSE(ParseId("4294967296"));
  EXPECT_EQ(ParseId("4294967295"), 4294967295LL);
}

TEST(Generator, OutputIsRulesThenPolicyDataAndDeterministic) {
  auto a = Generate(kBusyboxPod);
  auto b = Generate(kBusyboxPod);
  ASSERT_TRUE(a) << a.error().message;
  ASSERT_TRUE(b);
  EXPECT_EQ(a->text, b->text);
  EXPECT_EQ(a->text.rfind(std::string(DefaultRules()), 0), 0u);
  json data = PolicyData(a->text);
  ASSERT_EQ(data["containers"].size(), 2u);
  EXPECT_EQ(data["containers"][0]["kind"], "sandbox");
  EXPECT_EQ(data["containers"][1]["name"], "app");
  EXPECT_EQ(data["sandbox"]["name"], "^web$");
  EXPECT_EQ(data["sandbox"]["namespace"], "shop");
  // busybox: sh as root, with the groups /etc/group gives root.
  EXPECT_EQ(data["containers"][1]["args"], json::array({"sh"}));
  EXPECT_EQ(data["containers"][1]["user"]["additional_gids"], json::array({0, 10}));
  EXPECT_EQ(data["containers"][1]["image"]["tag_allowed"], true);
}

TEST(Generator, CommandArgsAndEnvironment) {
  kube::ConfigStore configs;
  testing::AddConfigs(R"yaml(apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {LEVEL: debug, MODE: fast}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
data: {TOKEN: c2VjcmV0}
)yaml",
                      "configs.yaml", configs);
  auto policy = Generate(R"yaml(apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: app
          image: quay.io/opstree/redis
          args: ["--level=$(LEVEL)", "$$(LEVEL)", "--pod=$(POD)"]
          tty: true
          envFrom:
            - configMapRef: {name: settings}
              prefix: CFG_
          env:
            - {name: LEVEL, valueFrom: {configMapKeyRef: {name: settings, key: LEVEL}}}
            - {name: TOKEN, valueFrom: {secretKeyRef: {name: creds, key: TOKEN}}}
            - {name: MISSING, valueFrom: {secretKeyRef: {name: nope, key: x, optional: true}}}
            - {name: APP, valueFrom: {fieldRef: {fieldPath: "metadata.labels['app']"}}}
            - {name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
            - {name: COPY, value: "$(APP)-$(LEVEL)"}
)yaml",
                         configs);
  ASSERT_TRUE(policy) << policy.error().message;
  json c = PolicyData(policy->text)["containers"][1];
  EXPECT_EQ(c["args"][0], "/usr/bin/entrypoint.sh");
  EXPECT_EQ(c["args"][1], "--level=debug");
  EXPECT_EQ(c["args"][2], "$(LEVEL)");
  EXPECT_EQ(c["arg_patterns"][3],
            "^--pod=(?:web-[bcdfghjklmnpqrstvwxz2456789]{1,10}-[bcdfghjklmnpqrstvwxz2456789]{5})$");
  EXPECT_EQ(c["cwd"], "/data");
  EXPECT_EQ(c["terminal"], true);
  auto env = c["env"];
  for (const char* entry : {"CFG_LEVEL=debug", "CFG_MODE=fast", "LEVEL=debug", "TOKEN=secret", "APP=web",
                            "COPY=web-debug", "REDIS_PORT=6379", "TERM=xterm"})
    EXPECT_THAT(env, ::testing::Contains(entry)) << entry;
  EXPECT_EQ(std::count(env.begin(), env.end(), "MISSING="), 0);
  ASSERT_EQ(c["env_patterns"].size(), 1u);
  EXPECT_THAT(c["env_patterns"][0].get<std::string>(), HasSubstr("^POD=(?:web-"));
  // redis runs as the image's "redis" user, a member of group redis.
  EXPECT_EQ(c["user"]["uid"], 1000);
  EXPECT_EQ(c["user"]["gid"], 1000);
  // Image volumes the pod does not cover are bind mounts of shared files.
  int image_volumes = 0;
  for (auto& m : c["mounts"])
    if (m["destination"] == "/data" || m["destination"] == "/node-conf") ++image_volumes;
  EXPECT_EQ(image_volumes, 2);
}

TEST(Generator, SecurityContext) {
  auto policy = Generate(R"yaml(apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  securityContext: {runAsUser: 1, runAsGroup: 2, fsGroup: 3, supplementalGroups: [4]}
  containers:
    - name: a
      image: quay.io/prometheus/busybox:latest
      securityContext:
        runAsUser: 5
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        capabilities: {add: [NET_ADMIN], drop: [KILL]}
    - name: b
      image: quay.io/prometheus/busybox:latest
      securityContext: {privileged: true}
)yaml");
  ASSERT_TRUE(policy) << policy.error().message;
  json data = PolicyData(policy->text);
  json a = data["containers"][1];
  EXPECT_EQ(a["user"]["uid"], 5);
  EXPECT_EQ(a["user"]["gid"], 2);
  EXPECT_EQ(a["user"]["additional_gids"], json::array({2, 3, 4}));
  EXPECT_EQ(a["no_new_privileges"], true);
  EXPECT_EQ(a["root_readonly"], true);
  EXPECT_THAT(a["capabilities"]["bounding"], ::testing::Contains("CAP_NET_ADMIN"));
  EXPECT_THAT(a["capabilities"]["bounding"], ::testing::Not(::testing::Contains("CAP_KILL")));
  json b = data["containers"][2];
  EXPECT_THAT(b["capabilities"]["effective"], ::testing::Contains("CAP_SYS_ADMIN"));
  EXPECT_TRUE(b["masked_paths"].empty());
  // The sandbox runs as the pod's user.
  EXPECT_EQ(data["containers"][0]["user"]["uid"], 1);
}

TEST(Generator, SandboxNamesOfControllers) {
  struct Case {
    const char* kind;
    const char* api;
    std::string matching;
    std::string other;
  };
  for (const Case& c :
       {Case{"Deployment", "apps/v1", "web-7c56d66754-pq9qp", "web-pq9qp"},
        Case{"StatefulSet", "apps/v1", "web-12", "web-01"},
        Case{"DaemonSet", "apps/v1", "web-pq9qp", "web-7c56d66754-pq9qp"},
        Case{"Job", "batch/v1", "web-pq9qp", "web-aaaaa"}, Case{"ReplicaSet", "apps/v1", "web-xjrzf", "webb-xjrzf"}}) {
    std::string yaml = std::string("apiVersion: ") + c.api + "\nkind: " + c.kind +
                       "\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n"
                       "        - {name: a, image: quay.io/prometheus/busybox:latest}\n";
    auto policy = Generate(yaml);
    ASSERT_TRUE(policy) << c.kind << ": " << policy.error().message;
    std::string pattern = PolicyData(policy->text)["sandbox"]["name"];
    auto loaded = rego::AgentPolicy::Load(policy->text);
    ASSERT_TRUE(loaded);
    auto matches = [&](const std::string& name) {
      rego::EvalOptions options;
      auto result = loaded->engine().EvalQuery(
          "regex.match(data.agent_policy.policy_data.sandbox.name, \"" + name + "\")", options);
      return result && !result->rows.empty() && result->rows[0].expressions[0].as_bool();
    };
    EXPECT_TRUE(matches(c.matching)) << c.kind << " " << pattern;
    EXPECT_FALSE(matches(c.other)) << c.kind << " " << pattern;
  }
}

// A StatefulSet's volumeClaimTemplates are volumes of its pods (how
// deploy/coordinator.yml keeps the Coordinator's history); elsewhere a mount
// of an undeclared volume stays an error.
TEST(Generator, StatefulSetClaimTemplatesAreVolumes) {
  const std::string pod_spec =
      "\nmetadata: {name: db}\nspec:\n  template:\n    spec:\n      containers:\n"
      "        - name: a\n          image: quay.io/prometheus/busybox:latest\n"
      "          volumeMounts: [{name: state, mountPath: /var/lib/db}]\n";
  auto stateful = Generate("apiVersion: apps/v1\nkind: StatefulSet" + pod_spec +
                           "  volumeClaimTemplates:\n    - metadata: {name: state}\n"
                           "      spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n");
  ASSERT_TRUE(stateful) << stateful.error().message;
  int claim_mounts = 0;
  const json data = PolicyData(stateful->text);
  for (auto& container : data["containers"]) {
    for (auto& m : container["mounts"])
      if (m["destination"] == "/var/lib/db") ++claim_mounts;
  }
  EXPECT_EQ(claim_mounts, 1);

  auto deployment = Generate("apiVersion: apps/v1\nkind: Deployment" + pod_spec);
  ASSERT_FALSE(deployment);
  EXPECT_THAT(deployment.error().message, HasSubstr("volume \"state\" is not in spec.volumes"));
  auto other_claim = Generate("apiVersion: apps/v1\nkind: StatefulSet" + pod_spec +
                              "  volumeClaimTemplates:\n    - metadata: {name: other}\n");
  ASSERT_FALSE(other_claim);
  EXPECT_THAT(other_claim.error().message, HasSubstr("spec.volumes or spec.volumeClaimTemplates"));
}

TEST(Generator, ErrorsNameFileAndLine) {
  auto nfs = Generate(R"yaml(apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
    - name: a
      image: quay.io/prometheus/busybox:latest
      volumeMounts: [{name: data, mountPath: /data}]
  volumes:
    - name: data
      nfs: {server: x, path: /}
)yaml");
  ASSERT_FALSE(nfs);
  EXPECT_THAT(nfs.error().message, HasSubstr("pod.yaml:10"));
  EXPECT_THAT(nfs.error().message, HasSubstr("unsupported type \"nfs\""));

  auto missing = Generate(R"yaml(apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
    - name: a
      image: quay.io/prometheus/busybox:latest
      env:
        - name: X
          valueFrom: {configMapKeyRef: {name: absent, key: k}}
)yaml");
  ASSERT_FALSE(missing);
  EXPECT_THAT(missing.error().message, HasSubstr("pod.yaml:10"));
  EXPECT_THAT(missing.error().message, HasSubstr("ConfigMap \"absent\""));

  auto unresolved = Generate(R"yaml(apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
    - name: a
      image: example.com/unknown:1
)yaml");
  ASSERT_FALSE(unresolved);
  EXPECT_THAT(unresolved.error().message, HasSubstr("pod.yaml:7"));
  EXPECT_THAT(unresolved.error().message, HasSubstr("not resolved"));

  GeneratorOptions strict;
  strict.require_image_digests = true;
  auto unpinned = Generate(kBusyboxPod, {}, strict);
  ASSERT_FALSE(unpinned);
  EXPECT_THAT(unpinned.error().message, HasSubstr("not pinned"));
}

TEST(Attachment, InitdataRoundTripsAndHashesTheToml) {
  auto policy = Generate(kBusyboxPod);
  ASSERT_TRUE(policy);
  Attachment a = AttachAsInitdata(policy->text);
  EXPECT_EQ(a.annotation_key, "io.katacontainers.config.hypervisor.cc_init_data");
  EXPECT_EQ(a.hashed_document.rfind("version = \"0.1.0\"\nalgorithm = \"sha256\"\n", 0), 0u);
  EXPECT_EQ(a.digest, crypto::Sha256(AsBytes(a.hashed_document)));
  auto decoded = cli::PolicyFromInitdataAnnotation(a.annotation_value);
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(*decoded, policy->text);
  // Deterministic gzip: no name, mtime 0, fixed OS byte.
  auto gz = Base64Decode(a.annotation_value);
  ASSERT_TRUE(gz);
  ASSERT_GT(gz->size(), 10u);
  EXPECT_EQ((*gz)[0], 0x1f);
  EXPECT_EQ((*gz)[1], 0x8b);
  EXPECT_EQ((*gz)[3], 0);  // flags: no name, no comment
  EXPECT_EQ((*gz)[4] | (*gz)[5] | (*gz)[6] | (*gz)[7], 0);
  EXPECT_EQ((*gz)[9], 255);
  EXPECT_EQ(AttachAsInitdata(policy->text).annotation_value, a.annotation_value);
}

// Our rules are compressed once and every pod's document goes on from a copy
// of that stream: the result must be the bytes of compressing it whole.
TEST(Attachment, SharedRulesCompressionEqualsCompressingTheWholeDocument) {
  for (const char* yaml : {kBusyboxPod}) {
    auto policy = Generate(yaml);
    ASSERT_TRUE(policy);
    ASSERT_EQ(policy->text.rfind(std::string(DefaultRules()), 0), 0u) << "the policy starts with the rules";
    Attachment a = AttachAsInitdata(policy->text);
    auto gz = Base64Decode(a.annotation_value);
    ASSERT_TRUE(gz);
    EXPECT_EQ(std::string(AsChars(*gz)), GzipForTest(a.hashed_document));
  }
  // A policy that does not start with our rules takes the whole-document path.
  Attachment other = AttachAsInitdata("package agent_policy\ndefault X := true\n");
  auto gz = Base64Decode(other.annotation_value);
  ASSERT_TRUE(gz);
  EXPECT_EQ(std::string(AsChars(*gz)), GzipForTest(other.hashed_document));
}

TEST(Attachment, TextALiteralStringCannotHoldIsEscaped) {
  for (std::string text : {std::string("a ''' b\n"), std::string("ends with quote'"), std::string("ctrl \x01 \r x")}) {
    Attachment a = AttachAsInitdata(text);
    EXPECT_THAT(a.hashed_document, HasSubstr("\"policy.rego\" = \"")) << text;
    auto decoded = cli::PolicyFromInitdataToml(a.hashed_document);
    ASSERT_TRUE(decoded) << decoded.error().message;
    EXPECT_EQ(*decoded, text);
  }
}

TEST(Attachment, LegacyAnnotationIsBase64OfThePolicy) {
  Attachment a = AttachAsLegacyAnnotation("package agent_policy\n");
  EXPECT_EQ(a.annotation_key, "io.katacontainers.config.agent.policy");
  EXPECT_EQ(a.annotation_value, Base64Encode(AsBytes("package agent_policy\n")));
  EXPECT_EQ(a.hashed_document, "package agent_policy\n");
  EXPECT_EQ(a.digest, crypto::Sha256(AsBytes(std::string("package agent_policy\n"))));
}

}  // namespace
}  // namespace contrast::policy::gen
