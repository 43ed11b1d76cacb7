// The agent's request semantics: results, policy state, failing requests,
// JSON-Patch and the protobuf defaults of requests.
#include "policy/rego/agent.h"

#include <filesystem>
#include <set>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/testdata.h"

namespace contrast::policy::rego {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

Value Json(std::string_view text) {
  auto value = Value::FromJson(text);
  EXPECT_TRUE(value.has_value()) << text;
  return value ? *value : Value::Null();
}

constexpr std::string_view kPolicy = R"(package agent_policy

default CreateContainerRequest := {"allowed": false}
default RemoveContainerRequest := false
default StartContainerRequest := true
default SetPolicyRequest := false

CreateContainerRequest := {"ops": ops, "allowed": true} if {
  print("create", input.container_id)
  not data.pstate[input.container_id]
  ops := [{"op": "add", "path": concat("/", ["", "pstate", input.container_id]), "value": count(data.pstate)}]
}

RemoveContainerRequest := {"ops": ops, "allowed": true} if {
  data.pstate[input.container_id]
  ops := [{"op": "remove", "path": concat("/", ["", "pstate", input.container_id])}]
}

ExecProcessRequest if {
  data.pstate[input.container_id] == 0
}

BadStateRequest := {"ops": [{"op": "remove", "path": "/pstate/missing"}], "allowed": true}

ConflictRequest := x if { some x in [1, 2] }

WeirdRequest := "yes"

ExtraDataRequest if { data.settings.enabled }
)";

AgentPolicy LoadOrDie(std::string_view text, AgentPolicyOptions options = {}) {
  auto policy = AgentPolicy::Load(text, options);
  EXPECT_TRUE(policy.has_value()) << (policy ? "" : policy.error().message);
  if (!policy) std::abort();
  return std::move(*policy);
}

Decision Decide(AgentPolicy& policy, std::string_view name, std::string_view input) {
  auto decision = policy.Evaluate(name, Json(input));
  EXPECT_TRUE(decision.has_value()) << name;
  return decision ? *decision : Decision{};
}

TEST(AgentPolicyTest, BooleanResultsDecide) {
  AgentPolicy policy = LoadOrDie(kPolicy);
  EXPECT_FALSE(policy.allows_failing_requests());
  Decision start = Decide(policy, "StartContainerRequest", "{}");
  EXPECT_TRUE(start.allowed);
  EXPECT_EQ(start.value, Value::Bool(true));
  Decision set = Decide(policy, "SetPolicyRequest", R"({"policy": ""})");
  EXPECT_FALSE(set.allowed);
  EXPECT_EQ(set.value, Value::Bool(false));
  EXPECT_FALSE(set.error.has_value());
}

TEST(AgentPolicyTest, OpsUpdateStateSeenByLaterRequests) {
  AgentPolicy policy = LoadOrDie(kPolicy);
  EXPECT_FALSE(Decide(policy, "ExecProcessRequest", R"({"container_id": "a"})").allowed);  // undefined: deny

  Decision first = Decide(policy, "CreateContainerRequest", R"({"container_id": "a"})");
  EXPECT_TRUE(first.allowed);
  EXPECT_THAT(first.prints.Lines(), ElementsAre(HasSubstr("create a")));
  EXPECT_EQ(policy.data(), Json(R"({"pstate": {"a": 0}})"));

  // The same container again: the state recorded by the first request denies it.
  Decision again = Decide(policy, "CreateContainerRequest", R"({"container_id": "a"})");
  EXPECT_FALSE(again.allowed);
  EXPECT_EQ(again.value, Json(R"({"allowed": false})"));
  EXPECT_TRUE(Decide(policy, "CreateContainerRequest", R"({"container_id": "b"})").allowed);
  EXPECT_EQ(policy.data(), Json(R"({"pstate": {"a": 0, "b": 1}})"));
  EXPECT_TRUE(Decide(policy, "ExecProcessRequest", R"({"container_id": "a"})").allowed);

  EXPECT_TRUE(Decide(policy, "RemoveContainerRequest", R"({"container_id": "a"})").allowed);
  EXPECT_EQ(policy.data(), Json(R"({"pstate": {"b": 1}})"));
  EXPECT_FALSE(Decide(policy, "ExecProcessRequest", R"({"container_id": "a"})").allowed);

  policy.SetData(policy.initial_data());
  EXPECT_EQ(policy.data(), Json(R"({"pstate": {}})"));
}

TEST(AgentPolicyTest, UndefinedRuleDenies) {
  AgentPolicy policy = LoadOrDie(kPolicy);
  Decision d = Decide(policy, "ListRoutesRequest", "{}");
  EXPECT_FALSE(d.allowed);
  EXPECT_FALSE(d.value.has_value());
  EXPECT_THAT(d.reason, HasSubstr("undefined"));
  EXPECT_FALSE(d.error.has_value());
}

TEST(AgentPolicyTest, PolicyFailuresDenyWithAnError) {
  AgentPolicy policy = LoadOrDie(kPolicy);
  Decision conflict = Decide(policy, "ConflictRequest", "{}");
  EXPECT_FALSE(conflict.allowed);
  ASSERT_TRUE(conflict.error.has_value());
  EXPECT_EQ(OpaCodeOf(*conflict.error), kEvalConflictError);

  Decision weird = Decide(policy, "WeirdRequest", "{}");
  EXPECT_FALSE(weird.allowed);
  ASSERT_TRUE(weird.error.has_value());
  EXPECT_THAT(weird.reason, HasSubstr("not a boolean"));

  const Value before = policy.data();
  Decision bad_state = Decide(policy, "BadStateRequest", "{}");
  EXPECT_FALSE(bad_state.allowed);
  ASSERT_TRUE(bad_state.error.has_value());
  EXPECT_EQ(policy.data(), before);
}

TEST(AgentPolicyTest, AllowRequestsFailingPolicyAllowsEveryFailureLoudly) {
  AgentPolicy policy = LoadOrDie(std::string(kPolicy) + "\nAllowRequestsFailingPolicy := true\n");
  EXPECT_TRUE(policy.allows_failing_requests());
  Decision undefined = Decide(policy, "ListRoutesRequest", "{}");
  EXPECT_TRUE(undefined.allowed);
  EXPECT_THAT(undefined.reason, HasSubstr("AllowRequestsFailingPolicy"));
  Decision denied = Decide(policy, "SetPolicyRequest", "{}");
  EXPECT_TRUE(denied.allowed);
  EXPECT_THAT(denied.reason, HasSubstr("ALLOWED ANYWAY"));
  Decision conflict = Decide(policy, "ConflictRequest", "{}");
  EXPECT_TRUE(conflict.allowed);
  EXPECT_TRUE(conflict.error.has_value());
}

// PrintCapture::kDenials decides like kAll; only an allow loses its prints.
TEST(AgentPolicyTest, PrintsOnlyForDenialsDecidesTheSame) {
  AgentPolicy all = LoadOrDie(kPolicy);
  AgentPolicy denials = LoadOrDie(kPolicy);
  const struct {
    std::string_view name;
    std::string_view input;
  } requests[] = {
      {"CreateContainerRequest", R"({"container_id": "a"})"},  // allowed, updates the state
      {"CreateContainerRequest", R"({"container_id": "a"})"},  // denied: already there
      {"ExecProcessRequest", R"({"container_id": "a"})"},
      {"RemoveContainerRequest", R"({"container_id": "b"})"},  // denied by the default
      {"ConflictRequest", "{}"},                               // fails
      {"WeirdRequest", "{}"},
      {"BadStateRequest", "{}"},
      {"ListRoutesRequest", "{}"},  // undefined
  };
  for (const auto& request : requests) {
    SCOPED_TRACE(std::string(request.name) + " " + std::string(request.input));
    Decision want = Decide(all, request.name, request.input);
    auto got = denials.Evaluate(request.name, Json(request.input), nullptr, PrintCapture::kDenials);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->allowed, want.allowed);
    EXPECT_EQ(got->value.has_value(), want.value.has_value());
    if (got->value && want.value) {
      EXPECT_EQ(*got->value, *want.value);
    }
    EXPECT_EQ(got->reason, want.reason);
    EXPECT_EQ(got->error.has_value(), want.error.has_value());
    EXPECT_EQ(denials.data(), all.data());
    if (got->allowed) {
      EXPECT_TRUE(got->prints.Lines().empty());
    } else {
      EXPECT_EQ(got->prints.Lines(), want.prints.Lines());
    }
  }
  // The second create was denied with the print of its one body.
  Decision again = Decide(all, "CreateContainerRequest", R"({"container_id": "a"})");
  EXPECT_THAT(again.prints.Lines(), ElementsAre(HasSubstr("create a")));
}

TEST(AgentPolicyTest, RejectsRequestNamesThatAreNotIdentifiers) {
  AgentPolicy policy = LoadOrDie(kPolicy);
  for (std::string_view name : {"", "a.b", "x; y", "Create ContainerRequest", "9Request", "a[0]"}) {
    EXPECT_FALSE(policy.Evaluate(name, Value::FromObject({})).has_value()) << name;
  }
}

TEST(AgentPolicyTest, LoadsV0AndExtraData) {
  AgentPolicyOptions options;
  options.version = RegoVersion::kV0;
  options.data = Json(R"({"settings": {"enabled": true}})");
  AgentPolicy policy = LoadOrDie("package agent_policy\n\nExtraDataRequest { data.settings.enabled }\n", options);
  EXPECT_TRUE(Decide(policy, "ExtraDataRequest", "{}").allowed);
  EXPECT_EQ(policy.data(), Json(R"({"pstate": {}, "settings": {"enabled": true}})"));
}

TEST(AgentPolicyTest, LoadReportsParseErrorsWithPosition) {
  AgentPolicyOptions options;
  options.filename = "p.rego";
  auto policy = AgentPolicy::Load("package agent_policy\n\nCreateContainerRequest if {\n", options);
  ASSERT_FALSE(policy.has_value());
  EXPECT_THAT(policy.error().message, HasSubstr("p.rego:"));
  EXPECT_EQ(OpaCodeOf(policy.error()), kRegoParseError);
}

// --- JSON-Patch --------------------------------------------------------------

TEST(JsonPatchTest, AddRemoveReplace) {
  const Value doc = Json(R"({"pstate": {"a": 1, "list": [1, 2]}})");
  auto out = ApplyJsonPatch(doc, Json(R"([
      {"op": "add", "path": "/pstate/b", "value": {"x": true}},
      {"op": "replace", "path": "/pstate/a", "value": 5},
      {"op": "add", "path": "/pstate/list/-", "value": 3},
      {"op": "add", "path": "/pstate/list/0", "value": 0},
      {"op": "remove", "path": "/pstate/list/1"},
      {"op": "add", "path": "/pstate/we~1ird~0key", "value": null}])"));
  ASSERT_TRUE(out.has_value()) << out.error().message;
  EXPECT_EQ(*out, Json(R"({"pstate": {"a": 5, "b": {"x": true}, "list": [0, 2, 3], "we/ird~key": null}})"));
  EXPECT_EQ(doc, Json(R"({"pstate": {"a": 1, "list": [1, 2]}})"));  // values are immutable
}

TEST(JsonPatchTest, AddOverwritesAndReplacesWholeDocument) {
  auto out = ApplyJsonPatch(Json(R"({"a": 1})"), Json(R"([{"op": "add", "path": "/a", "value": 2}])"));
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(*out, Json(R"({"a": 2})"));
  out = ApplyJsonPatch(Json(R"({"a": 1})"), Json(R"([{"op": "replace", "path": "", "value": [1]}])"));
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(*out, Json("[1]"));
}

TEST(JsonPatchTest, FailuresLeaveNothingHalfApplied) {
  const Value doc = Json(R"({"pstate": {}})");
  for (std::string_view ops : {
           R"([{"op": "remove", "path": "/pstate/missing"}])",
           R"([{"op": "replace", "path": "/pstate/missing", "value": 1}])",
           R"([{"op": "add", "path": "/nope/deeper", "value": 1}])",
           R"([{"op": "add", "path": "pstate", "value": 1}])",
           R"([{"op": "add", "path": "/pstate/a~2", "value": 1}])",
           R"([{"op": "move", "from": "/pstate", "path": "/x"}])",
           R"([{"op": "add", "path": "/pstate/a"}])",
           R"([{"path": "/pstate/a", "value": 1}])",
           R"([{"op": "add", "path": "/pstate/x", "value": 1}, {"op": "remove", "path": "/zzz"}])",
           R"({"op": "add"})",
           R"([1])",
       }) {
    EXPECT_FALSE(ApplyJsonPatch(doc, Json(ops)).has_value()) << ops;
  }
  const Value list = Json(R"({"l": [1]})");
  EXPECT_FALSE(ApplyJsonPatch(list, Json(R"([{"op": "add", "path": "/l/2", "value": 1}])")).has_value());
  EXPECT_FALSE(ApplyJsonPatch(list, Json(R"([{"op": "remove", "path": "/l/01"}])")).has_value());
  EXPECT_FALSE(ApplyJsonPatch(list, Json(R"([{"op": "remove", "path": "/l/-"}])")).has_value());
}

// --- Request defaults ----------------------------------------------------------

const Value* At(const Value& v, std::initializer_list<std::string_view> path) {
  const Value* cur = &v;
  for (std::string_view key : path) {
    cur = cur->Get(key);
    if (cur == nullptr) return nullptr;
  }
  return cur;
}

TEST(RequestDefaultsTest, FillsOmittedFieldsRecursively) {
  auto filled = FillRequestDefaults(
      "CreateContainerRequest",
      Json(
          R"({"container_id": "c", "OCI": {"Process": {"Args": ["/pause"]}, "Linux": {"Namespaces": [{"Type": "ipc"}]}},
               "storages": [{"driver": "local"}], "extra": 1})"));
  ASSERT_TRUE(filled.has_value()) << filled.error().message;
  const Value& r = *filled;
  EXPECT_EQ(*At(r, {"container_id"}), Value::String("c"));
  EXPECT_EQ(*At(r, {"exec_id"}), Value::String(""));
  EXPECT_EQ(*At(r, {"string_user"}), Value::Null());
  EXPECT_EQ(*At(r, {"devices"}), Json("[]"));
  EXPECT_EQ(*At(r, {"shared_mounts"}), Json("[]"));
  EXPECT_EQ(*At(r, {"sandbox_pidns"}), Value::Bool(false));
  EXPECT_EQ(*At(r, {"stdin_port"}), Value::Int(0));
  EXPECT_EQ(*At(r, {"extra"}), Value::Int(1));  // unknown fields are kept
  EXPECT_EQ(*At(r, {"OCI", "Version"}), Value::String(""));
  EXPECT_EQ(*At(r, {"OCI", "Annotations"}), Json("{}"));
  EXPECT_EQ(*At(r, {"OCI", "Hooks"}), Value::Null());
  EXPECT_EQ(*At(r, {"OCI", "Root"}), Value::Null());
  EXPECT_EQ(*At(r, {"OCI", "Mounts"}), Json("[]"));
  EXPECT_EQ(*At(r, {"OCI", "Process", "Args"}), Json(R"(["/pause"])"));
  EXPECT_EQ(*At(r, {"OCI", "Process", "Terminal"}), Value::Bool(false));
  EXPECT_EQ(*At(r, {"OCI", "Process", "User"}), Value::Null());
  EXPECT_EQ(*At(r, {"OCI", "Process", "Rlimits"}), Json("[]"));
  EXPECT_EQ(*At(r, {"OCI", "Process", "OOMScoreAdj"}), Value::Int(0));
  EXPECT_EQ(*At(r, {"OCI", "Linux", "Sysctl"}), Json("{}"));
  EXPECT_EQ(*At(r, {"OCI", "Linux", "IntelRdt"}), Value::Null());
  EXPECT_EQ(At(r, {"OCI", "Linux", "Namespaces"})->as_array().at(0), Json(R"({"Type": "ipc", "Path": ""})"));
  EXPECT_EQ(r.Get("storages")->as_array().at(0),
            Json(R"({"driver": "local", "driver_options": [], "source": "", "fstype": "", "options": [],
                     "mount_point": "", "fs_group": null, "shared": false})"));
}

TEST(RequestDefaultsTest, SimpleAndNetworkRequests) {
  auto routes = FillRequestDefaults("UpdateRoutesRequest", Json(R"({"routes": {"Routes": [{"device": "lo"}]}})"));
  ASSERT_TRUE(routes.has_value());
  EXPECT_EQ(*routes, Json(R"({"routes": {"Routes": [{"dest": "", "gateway": "", "device": "lo", "source": "",
                                                    "scope": 0, "family": 0}]}})"));
  auto arp = FillRequestDefaults("AddARPNeighborsRequest", Json("{}"));
  ASSERT_TRUE(arp.has_value());
  EXPECT_EQ(*arp, Json(R"({"neighbors": null})"));
  auto iface = FillRequestDefaults("UpdateInterfaceRequest", Json(R"({"interface": {"name": "eth0"}})"));
  ASSERT_TRUE(iface.has_value());
  EXPECT_EQ(*At(*iface, {"interface", "raw_flags"}), Value::Int(0));
  EXPECT_EQ(*At(*iface, {"interface", "IPAddresses"}), Json("[]"));
  EXPECT_EQ(*At(*iface, {"interface", "type_"}), Value::String(""));
  auto remove = FillRequestDefaults("RemoveContainerRequest", Json("{}"));
  ASSERT_TRUE(remove.has_value());
  EXPECT_EQ(*remove, Json(R"({"container_id": "", "timeout": 0})"));
  auto sandbox = FillRequestDefaults("CreateSandboxRequest", Json(R"({"sandbox_pidns": true})"));
  ASSERT_TRUE(sandbox.has_value());
  EXPECT_EQ(*sandbox, Json(R"({"hostname": "", "dns": [], "storages": [], "sandbox_pidns": true, "sandbox_id": "",
                              "guest_hook_path": "", "kernel_modules": []})"));
}

TEST(RequestDefaultsTest, UnknownKindsPassThroughAndWrongTypesAreErrors) {
  const Value v = Json(R"({"anything": [1]})");
  auto same = FillRequestDefaults("NoSuchRequest", v);
  ASSERT_TRUE(same.has_value());
  EXPECT_EQ(*same, v);
  EXPECT_FALSE(HasRequestSchema("NoSuchRequest"));
  EXPECT_FALSE(HasRequestSchema("Spec"));  // a sub-message is not a request
  EXPECT_TRUE(HasRequestSchema("ExecProcessRequest"));

  auto wrong = FillRequestDefaults("ExecProcessRequest", Json(R"({"process": {"User": {"UID": "0"}}})"));
  ASSERT_FALSE(wrong.has_value());
  EXPECT_THAT(wrong.error().message, HasSubstr("process.User.UID"));
  auto wrong_item = FillRequestDefaults("CreateContainerRequest", Json(R"({"storages": [{}, 3]})"));
  ASSERT_FALSE(wrong_item.has_value());
  EXPECT_THAT(wrong_item.error().message, HasSubstr("storages[1]"));
  EXPECT_FALSE(FillRequestDefaults("CreateContainerRequest", Json("[]")).has_value());
}

// Every request of Kata's genpolicy tests fills without error, keeps what it
// had, gains only defaults, and filling twice changes nothing.
void ExpectSubset(const Value& original, const Value& filled, const std::string& where, int* added) {
  if (!original.is_object()) {
    if (original.is_array() && filled.is_array() && original.as_array().size() == filled.as_array().size()) {
      for (size_t i = 0; i < original.as_array().size(); ++i) {
        ExpectSubset(original.as_array()[i], filled.as_array()[i], where + "[" + std::to_string(i) + "]", added);
      }
      return;
    }
    EXPECT_EQ(original, filled) << where;
    return;
  }
  ASSERT_TRUE(filled.is_object()) << where;
  for (const auto& [key, value] : original.as_object()) {
    const Value* got = filled.Find(key);
    ASSERT_NE(got, nullptr) << where << "." << key.ToJson();
    ExpectSubset(value, *got, where + "." + key.ToJson(), added);
  }
  *added += static_cast<int>(filled.as_object().size() - original.as_object().size());
}

TEST(RequestDefaultsTest, GenpolicyTestcasesFillCleanly) {
  CONTRAST_REQUIRE_TESTDATA();
  const auto root = contrast::testing::TestdataDir() / "kata" / "genpolicy-policy-tests";
  int cases = 0;
  int added = 0;
  std::set<std::string> kinds;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    if (entry.path().filename() != "testcases.json") continue;
    const auto rel = std::filesystem::relative(entry.path(), contrast::testing::TestdataDir()).string();
    const Bytes bytes = contrast::testing::ReadTestdata(rel);
    auto doc = Value::FromJson(AsChars(bytes));
    ASSERT_TRUE(doc.has_value()) << rel;
    for (const Value& c : doc->as_array()) {
      const std::string kind = c.Get("kind")->as_string();
      kinds.insert(kind);
      ASSERT_TRUE(HasRequestSchema(kind)) << kind;
      const Value& request = *c.Get("request");
      auto filled = FillRequestDefaults(kind, request);
      ASSERT_TRUE(filled.has_value()) << rel << ": " << filled.error().message;
      ExpectSubset(request, *filled, rel + ":" + kind, &added);
      auto twice = FillRequestDefaults(kind, *filled);
      ASSERT_TRUE(twice.has_value());
      EXPECT_EQ(*twice, *filled) << rel;
      ++cases;
    }
  }
  EXPECT_EQ(cases, 108);
  EXPECT_EQ(kinds.size(), 8u);
  EXPECT_GT(added, 100);  // the cases do omit defaults
}

// The recorded agent sessions hold requests exactly as an (older) agent
// serialized them: filling them must add nothing but the fields that agent
// did not have yet. This pins the schema's field names to real data.
void CollectAdded(const Value& original, const Value& filled, std::set<std::string>* added) {
  if (original.is_array() && filled.is_array() && original.as_array().size() == filled.as_array().size()) {
    for (size_t i = 0; i < original.as_array().size(); ++i) {
      CollectAdded(original.as_array()[i], filled.as_array()[i], added);
    }
  }
  if (!original.is_object() || !filled.is_object()) return;
  for (const auto& [key, value] : filled.as_object()) {
    const Value* before = original.Find(key);
    if (before == nullptr) {
      added->insert(key.as_string());
    } else {
      CollectAdded(*before, value, added);
    }
  }
}

TEST(RequestDefaultsTest, RecordedSessionRequestsAreAlreadyComplete) {
  CONTRAST_REQUIRE_TESTDATA();
  const auto root = contrast::testing::TestdataDir() / "kata" / "agent-sessions";
  std::set<std::string> added;
  int requests = 0;
  for (const auto& entry : std::filesystem::directory_iterator(root)) {
    if (!entry.is_directory()) continue;
    const std::string rel = "kata/agent-sessions/" + entry.path().filename().string() + "/inputs.txt";
    const Bytes text = contrast::testing::ReadTestdata(rel);
    std::string_view rest = AsChars(text);
    while (!rest.empty()) {
      const size_t eol = rest.find('\n');
      std::string_view line = rest.substr(0, eol);
      rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 1);
      if (!line.starts_with(R"(["ep":")")) continue;
      const size_t name_end = line.find("\",");
      const std::string name(line.substr(7, name_end - 7));
      while (line.back() != ']') line.remove_suffix(1);
      auto input = Value::FromJson(line.substr(name_end + 2, line.size() - 1 - (name_end + 2)));
      ASSERT_TRUE(input.has_value()) << rel;
      auto filled = FillRequestDefaults(name, *input);
      ASSERT_TRUE(filled.has_value()) << rel << ": " << filled.error().message;
      CollectAdded(*input, *filled, &added);
      ++requests;
    }
  }
  EXPECT_EQ(requests, 442);
  EXPECT_EQ(added, (std::set<std::string>{"file_type", "symlink_target", "shared", "stdin_port", "stdout_port",
                                          "stderr_port"}));
}

}  // namespace
}  // namespace contrast::policy::rego
