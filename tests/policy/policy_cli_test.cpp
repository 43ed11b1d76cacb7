// `contrast policy eval|check|explain`, in-process: output, exit codes, and
// where the policy comes from (file, legacy annotation, initdata).
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cli/app.h"
#include "cli/policy_commands.h"
#include "common/bytes.h"
#include "common/files.h"
#include "policy/rego/value.h"
#include "support/cli_run.h"
#include "support/testdata.h"

namespace contrast::cli {
namespace {

using policy::rego::Value;
using ::testing::HasSubstr;
using ::testing::Not;

using contrast::testing::CliRun;
using contrast::testing::Contrast;

Value Json(std::string_view text) {
  auto v = Value::FromJson(text);
  EXPECT_TRUE(v.has_value()) << text;
  return v ? *v : Value::Null();
}

std::string Gzip(std::string_view data) {
  z_stream s{};
  EXPECT_EQ(deflateInit2(&s, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&s, data.size()) + 64, '\0');
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  s.avail_in = static_cast<uInt>(data.size());
  s.next_out = reinterpret_cast<Bytef*>(out.data());
  s.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&s, Z_FINISH), Z_STREAM_END);
  out.resize(s.total_out);
  deflateEnd(&s);
  return out;
}

constexpr std::string_view kAgentPolicy = R"(package agent_policy

default CreateContainerRequest := false
default AllowRequestsFailingPolicy := false

CreateContainerRequest := {"ops": ops, "allowed": true} if {
  print("checking", input.container_id)
  allowed_image(input.OCI.Annotations["io.kubernetes.cri.image-name"])
  input.string_user == null
  ops := [{"op": "add", "path": concat("/", ["", "pstate", input.container_id]), "value": true}]
}

allowed_image(name) if {
  startswith(name, "registry.k8s.io/")
}

ExecProcessRequest if {
  data.pstate[input.container_id]
}
)";

class PolicyCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("contrast-policy-cli-" + std::to_string(::getpid()) + "-" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, std::string_view content) const {
    EXPECT_TRUE(WriteFileAtomic(dir_ / name, content));
    return (dir_ / name).string();
  }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  std::filesystem::path dir_;
};

TEST_F(PolicyCliTest, HelpNamesEveryOption) {
  const CliRun eval = Contrast({"policy", "eval", "--help"});
  EXPECT_EQ(eval.code, kExitOk);
  EXPECT_THAT(eval.out, HasSubstr("--data"));
  EXPECT_THAT(eval.out, HasSubstr("bindings"));
  for (const char* cmd : {"check", "explain"}) {
    const CliRun r = Contrast({"policy", cmd, "--help"});
    EXPECT_EQ(r.code, kExitOk) << cmd;
    EXPECT_THAT(r.out, HasSubstr("--from-yaml"));
    EXPECT_THAT(r.out, HasSubstr("--request"));
  }
  EXPECT_EQ(Contrast({"policy"}).code, kExitUsage);
  EXPECT_EQ(Contrast({"policy", "eval", "data.x"}).code, kExitUsage);  // -d missing
}

TEST_F(PolicyCliTest, EvalPrintsValuesBindingsAndRows) {
  const std::string rego = Write("p.rego",
                                 "package p\n\nq := 1\n\ns contains x if { some x in [1, 2] }\n"
                                 "greet := concat(\" \", [\"hi\", input.name]) if { print(\"greeting\") }\n");
  const std::string data = Write("d.json", R"({"d": {"k": [true]}})");
  const std::string input = Write("in.json", R"({"name": "ann"})");

  CliRun r = Contrast({"policy", "eval", "-d", rego, "data.p.q"});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(Json(r.out), Value::Int(1));

  r = Contrast({"policy", "eval", "-d", rego, "-d", data, "data.p.q = x; y := data.d.k[0]"});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(Json(r.out), Json(R"({"x": 1, "y": true})"));

  r = Contrast({"policy", "eval", "-d", rego, "data.p.s[x]"});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(Json(r.out), Json(R"([{"x": 1}, {"x": 2}])"));

  r = Contrast({"policy", "eval", "-d", rego, "-i", input, "data.p.greet"});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(Json(r.out), Value::String("hi ann"));
  EXPECT_THAT(r.err, HasSubstr("greeting"));

  r = Contrast({"policy", "eval", "-d", dir_.string(), "data.d.k"});  // a directory loads both files
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(Json(r.out), Json("[true]"));
}

TEST_F(PolicyCliTest, EvalUndefinedExitsOneWithNothingOnStdout) {
  const std::string rego = Write("p.rego", "package p\n\nq := 1\n");
  for (const char* query : {"data.p.nope", "data.p.q == 2", "input.x"}) {
    const CliRun r = Contrast({"policy", "eval", "-d", rego, query});
    EXPECT_EQ(r.code, kExitFailed) << query << r.err;
    EXPECT_EQ(r.out, "") << query;
  }
}

TEST_F(PolicyCliTest, EvalErrorsExitTwoWithPositionAndCode) {
  const std::string bad = Write("bad.rego", "package p\n\nq := {\n");
  CliRun r = Contrast({"policy", "eval", "-d", bad, "data.p.q"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, HasSubstr("bad.rego:"));
  EXPECT_THAT(r.err, HasSubstr("rego_parse_error"));

  const std::string conflict = Write("c.rego", "package p\n\nq := x if { some x in [1, 2] }\n");
  r = Contrast({"policy", "eval", "-d", conflict, "data.p.q"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("eval_conflict_error"));

  const std::string rego = Write("p.rego", "package p\n\nn := to_number(\"x\")\n");
  EXPECT_EQ(Contrast({"policy", "eval", "-d", rego, "data.p.n"}).code, kExitFailed);  // non-strict: undefined
  r = Contrast({"policy", "eval", "--strict", "-d", rego, "data.p.n"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("eval_builtin_error"));

  EXPECT_EQ(Contrast({"policy", "eval", "-d", Path("missing.rego"), "data.p"}).code, kExitUsage);
  EXPECT_EQ(Contrast({"policy", "eval", "-d", Write("x.txt", "hi"), "data.p"}).code, kExitUsage);
}

TEST_F(PolicyCliTest, EvalV0Syntax) {
  const std::string rego = Write("v0.rego", "package p\n\nallow { input.x == 1 }\n");
  const std::string input = Write("in.json", R"({"x": 1})");
  EXPECT_EQ(Contrast({"policy", "eval", "-d", rego, "-i", input, "data.p.allow"}).code, kExitUsage);  // v1 parse fails
  const CliRun r = Contrast({"policy", "eval", "--v0", "-d", rego, "-i", input, "data.p.allow"});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(Json(r.out), Value::Bool(true));
}

constexpr std::string_view kGoodRequest =
    R"({"container_id": "c1", "OCI": {"Annotations": {"io.kubernetes.cri.image-name": "registry.k8s.io/pause:3.6"}}})";
constexpr std::string_view kBadRequest =
    R"({"container_id": "c2", "OCI": {"Annotations": {"io.kubernetes.cri.image-name": "evil.example/x"}}})";

TEST_F(PolicyCliTest, CheckAllowsDeniesAndCarriesState) {
  const std::string policy = Write("policy.rego", kAgentPolicy);
  const std::string good = Write("good.json", kGoodRequest);
  const std::string bad = Write("bad.json", kBadRequest);

  // string_user is omitted: only the filled-in default (null) lets it pass.
  CliRun r = Contrast({"policy", "check", "--policy", policy, "--request", "CreateContainerRequest", good,
                       "--state-out", Path("state.json")});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.out, ::testing::StartsWith("allow\n"));
  EXPECT_THAT(r.out, HasSubstr("checking c1"));
  auto state = ReadTextFile(Path("state.json"));
  ASSERT_TRUE(state.has_value());
  EXPECT_EQ(Json(*state), Json(R"({"c1": true})"));

  r = Contrast({"policy", "check", "--policy", policy, "--request", "CreateContainerRequest", good, "--no-defaults"});
  EXPECT_EQ(r.code, kExitFailed);

  r = Contrast({"policy", "check", "--policy", policy, "--request", "CreateContainerRequest", bad});
  EXPECT_EQ(r.code, kExitFailed);
  EXPECT_THAT(r.out, ::testing::StartsWith("deny\n"));

  const std::string exec = Write("exec.json", R"({"container_id": "c1"})");
  EXPECT_EQ(Contrast({"policy", "check", "--policy", policy, "--request", "ExecProcessRequest", exec}).code,
            kExitFailed);
  r = Contrast(
      {"policy", "check", "--policy", policy, "--request", "ExecProcessRequest", exec, "--state", Path("state.json")});
  EXPECT_EQ(r.code, kExitOk) << r.out << r.err;
}

TEST_F(PolicyCliTest, CheckUsageErrors) {
  const std::string policy = Write("policy.rego", kAgentPolicy);
  const std::string good = Write("good.json", kGoodRequest);
  EXPECT_EQ(Contrast({"policy", "check", "--request", "CreateContainerRequest", good}).code, kExitUsage);
  EXPECT_EQ(Contrast({"policy", "check", "--policy", policy, "--from-yaml", policy, "--request", "X", good}).code,
            kExitUsage);
  EXPECT_EQ(Contrast({"policy", "check", "--policy", policy, "--request", "a.b", good}).code, kExitUsage);
  EXPECT_EQ(Contrast({"policy", "check", "--policy", policy, "--request", "CreateContainerRequest",
                      Write("wrong.json", R"({"container_id": 5})")})
                .code,
            kExitUsage);
  EXPECT_EQ(Contrast({"policy", "check", "--policy", Write("bad.rego", "package agent_policy\nx := {"), "--request",
                      "CreateContainerRequest", good})
                .code,
            kExitUsage);
}

TEST_F(PolicyCliTest, ExplainShowsTheFailingExpressionAndValues) {
  const std::string policy = Write("policy.rego", kAgentPolicy);
  const std::string bad = Write("bad.json", kBadRequest);
  const CliRun r = Contrast({"policy", "explain", "--policy", policy, "--request", "CreateContainerRequest", bad});
  EXPECT_EQ(r.code, kExitFailed) << r.err;
  EXPECT_THAT(r.out, ::testing::StartsWith("deny\n"));
  EXPECT_THAT(r.out, HasSubstr("data.agent_policy.CreateContainerRequest"));
  EXPECT_THAT(r.out, HasSubstr("allowed_image(input.OCI.Annotations"));
  EXPECT_THAT(r.out, HasSubstr("data.agent_policy.allowed_image"));
  EXPECT_THAT(r.out, HasSubstr("startswith(name, \"registry.k8s.io/\")"));
  EXPECT_THAT(r.out, HasSubstr("\"evil.example/x\""));
  EXPECT_THAT(r.out, HasSubstr(policy + ":"));

  const CliRun ok = Contrast(
      {"policy", "explain", "--policy", policy, "--request", "CreateContainerRequest", Write("g.json", kGoodRequest)});
  EXPECT_EQ(ok.code, kExitOk);
  EXPECT_THAT(ok.out, Not(HasSubstr("Why")));
}

std::string PodYaml(std::string_view annotation, std::string_view value) {
  return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n---\n"
         "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    metadata:\n"
         "      annotations:\n        " +
         std::string(annotation) + ": \"" + std::string(value) +
         "\"\n    spec:\n      runtimeClassName: contrast-cc\n      containers:\n      - name: c\n        image: x\n";
}

TEST_F(PolicyCliTest, PolicyFromLegacyAnnotation) {
  const std::string yaml =
      PodYaml("io.katacontainers.config.agent.policy", Base64Encode(AsBytes(std::string(kAgentPolicy))));
  auto policy = PolicyFromKubernetesYaml(yaml);
  ASSERT_TRUE(policy.has_value()) << policy.error().message;
  EXPECT_EQ(*policy, kAgentPolicy);

  const CliRun r = Contrast({"policy", "check", "--from-yaml", Write("w.yaml", yaml), "--request",
                             "CreateContainerRequest", Write("g.json", kGoodRequest)});
  EXPECT_EQ(r.code, kExitOk) << r.err;
}

TEST_F(PolicyCliTest, PolicyFromInitdataAnnotation) {
  const std::string toml =
      "version = \"0.1.0\"\nalgorithm = \"sha256\"\n\n[data]\n\"aa.toml\" = '''\n[x]\ny = 1\n'''\n"
      "\"policy.rego\" = '''\n" +
      std::string(kAgentPolicy) + "'''\n";
  const std::string annotation = Base64Encode(AsBytes(Gzip(toml)));
  auto policy = PolicyFromInitdataAnnotation(annotation);
  ASSERT_TRUE(policy.has_value()) << policy.error().message;
  EXPECT_EQ(*policy, kAgentPolicy);

  const std::string yaml = PodYaml("io.katacontainers.config.hypervisor.cc_init_data", annotation);
  const CliRun r = Contrast({"policy", "check", "--from-yaml", Write("w.yaml", yaml), "--request",
                             "CreateContainerRequest", Write("b.json", kBadRequest)});
  EXPECT_EQ(r.code, kExitFailed) << r.err;

  EXPECT_FALSE(PolicyFromInitdataAnnotation(Base64Encode(AsBytes(std::string("not gzip")))).has_value());
  EXPECT_FALSE(PolicyFromInitdataAnnotation("%%%").has_value());
  const std::string truncated = Gzip(toml).substr(0, 40);
  EXPECT_FALSE(PolicyFromInitdataAnnotation(Base64Encode(AsBytes(truncated))).has_value());
  EXPECT_FALSE(PolicyFromKubernetesYaml("kind: Pod\nmetadata:\n  name: x\n").has_value());
  EXPECT_FALSE(PolicyFromKubernetesYaml("a: [unclosed").has_value());
}

TEST(InitdataTomlTest, FindsThePolicyInEveryStringForm) {
  EXPECT_EQ(PolicyFromInitdataToml("[data]\n\"policy.rego\" = '''\npackage x\n'''\n").value_or("?"), "package x\n");
  EXPECT_EQ(PolicyFromInitdataToml("[data]\n'policy.rego' = \"a\\tb\\u00e9\\\"\"\n").value_or("?"), "a\tb\xc3\xa9\"");
  EXPECT_EQ(PolicyFromInitdataToml("data.\"policy.rego\" = 'raw\\n'\n").value_or("?"), "raw\\n");
  EXPECT_EQ(PolicyFromInitdataToml("[data]\n\"policy.rego\" = \"\"\"\nline \\\n   joined\"\"\"\n").value_or("?"),
            "line joined");
  // Values before it, including arrays, tables and strings that look like headers.
  EXPECT_EQ(PolicyFromInitdataToml("version = \"0.1.0\" # c\nlist = [1, \"]\", [2]]\ninline = {a = 1}\n"
                                   "[other]\n\"policy.rego\" = 'no'\n[data]\n\"x\" = '''\n[data]\n'''\n"
                                   "\"policy.rego\" = '''p''''\n")
                .value_or("?"),
            "p'");
  EXPECT_FALSE(PolicyFromInitdataToml("[data]\nother = 'x'\n").has_value());
  EXPECT_FALSE(PolicyFromInitdataToml("[data]\n\"policy.rego\" = '''never closed\n").has_value());
  EXPECT_FALSE(PolicyFromInitdataToml("[data\n").has_value());
  EXPECT_FALSE(PolicyFromInitdataToml("= 1\n").has_value());
}

// A recorded session's policy decides its recorded requests the same way
// through the CLI.
TEST_F(PolicyCliTest, ChecksARecordedSessionRequest) {
  CONTRAST_REQUIRE_TESTDATA();
  const auto session = contrast::testing::TestdataDir() / "kata" / "agent-sessions" / "pod-exec";
  auto inputs = ReadTextFile(session / "inputs.txt");
  ASSERT_TRUE(inputs.has_value());
  const size_t at = inputs->find(R"(["ep":"CreateSandboxRequest",)");
  ASSERT_NE(at, std::string::npos);
  const size_t begin = inputs->find('{', at);
  const size_t end = inputs->find("],\n", begin);
  const std::string request = Write("sandbox.json", inputs->substr(begin, end - begin));
  // The recording is complete as that (older) agent serialized it; today's
  // defaults add Storage.shared, which this older policy's exact storage
  // comparison rejects.
  const CliRun r = Contrast({"policy", "check", "--v0", "--no-defaults", "--policy", (session / "policy.rego").string(),
                             "--request", "CreateSandboxRequest", request});
  EXPECT_EQ(r.code, kExitOk) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("allow_sandbox_storages: true"));
  const CliRun filled = Contrast({"policy", "check", "--v0", "--policy", (session / "policy.rego").string(),
                                  "--request", "CreateSandboxRequest", request});
  EXPECT_EQ(filled.code, kExitFailed) << filled.out << filled.err;
  EXPECT_THAT(filled.out, HasSubstr("\"shared\": false"));
}

}  // namespace
}  // namespace contrast::cli
