// Replays the 12 recorded Kata agent sessions (regorus' tests/kata/data):
// every request of a session is decided in file order by one AgentPolicy, so
// policy state carries over, and each rule value and its `print` lines must
// equal the recording.
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "policy/rego/agent.h"
#include "support/testdata.h"

namespace contrast::policy::rego {
namespace {

struct RecordedRequest {
  std::string name;
  Value input;
};

// Each non-empty line of inputs.txt is `["ep":"<Name>",{...input...}],`.
std::vector<RecordedRequest> ParseInputs(std::string_view text, std::string* error) {
  std::vector<RecordedRequest> requests;
  std::istringstream lines{std::string(text)};
  std::string line;
  int number = 0;
  while (std::getline(lines, line)) {
    ++number;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (line.empty()) continue;
    constexpr std::string_view kPrefix = R"(["ep":")";
    const size_t name_end = line.find("\",", kPrefix.size());
    if (!line.starts_with(kPrefix) || name_end == std::string::npos || !line.ends_with("],")) {
      *error = "inputs.txt:" + std::to_string(number) + ": unexpected line shape";
      return {};
    }
    RecordedRequest request;
    request.name = line.substr(kPrefix.size(), name_end - kPrefix.size());
    const size_t json_begin = name_end + 2;
    auto input = Value::FromJson(std::string_view(line).substr(json_begin, line.size() - 2 - json_begin));
    if (!input) {
      *error = "inputs.txt:" + std::to_string(number) + ": " + input.error().message;
      return {};
    }
    request.input = std::move(*input);
    requests.push_back(std::move(request));
  }
  return requests;
}

std::string Joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += "    " + l + "\n";
  return out;
}

// One recorded session: the policy, the requests in order, and for each the
// rule's value and its print lines.
struct Recording {
  std::string policy_text;
  std::vector<RecordedRequest> requests;
  std::vector<Value> outputs;
  std::vector<std::vector<std::string>> prints;
  AgentPolicyOptions options;  // as the recording loaded the policy
};

// Reads the session's files; empty `error` on success.
Recording ReadRecording(const std::string& session, std::string* error) {
  const std::string dir = "kata/agent-sessions/" + session + "/";
  Recording recording;
  recording.policy_text = std::string(AsChars(contrast::testing::ReadTestdata(dir + "policy.rego")));
  recording.requests = ParseInputs(AsChars(contrast::testing::ReadTestdata(dir + "inputs.txt")), error);
  if (!error->empty()) return recording;
  auto outputs = Value::FromJson(AsChars(contrast::testing::ReadTestdata(dir + "outputs.json")));
  auto prints = Value::FromJson(AsChars(contrast::testing::ReadTestdata(dir + "prints.json")));
  if (!outputs || !outputs->is_array() || !prints || !prints->is_array()) {
    *error = "outputs.json or prints.json is not a JSON array";
    return recording;
  }
  recording.outputs = outputs->as_array();
  for (const Value& lines : prints->as_array()) {
    std::vector<std::string>& out = recording.prints.emplace_back();
    for (const Value& line : lines.as_array()) out.push_back(line.as_string());
  }
  if (recording.outputs.size() != recording.requests.size() || recording.prints.size() != recording.requests.size()) {
    *error = "inputs, outputs and prints differ in length";
  }
  // The recording names the module by its path in the regorus repository,
  // and every print line starts with that path.
  recording.options.version = RegoVersion::kV0;
  recording.options.filename = "tests/kata/data/" + session + "/policy.rego";
  return recording;
}

class AgentSessionTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    CONTRAST_REQUIRE_TESTDATA();
    std::string error;
    recording_ = ReadRecording(GetParam(), &error);
    ASSERT_TRUE(error.empty()) << error;
  }

  Recording recording_;
};

TEST_P(AgentSessionTest, ReplaysEveryRequest) {
  const std::string session = GetParam();
  const Recording& recording = recording_;
  const std::vector<RecordedRequest>& requests = recording.requests;
  auto policy = AgentPolicy::Load(recording.policy_text, recording.options);
  ASSERT_TRUE(policy.has_value()) << policy.error().message;

  int value_matches = 0;
  int print_matches = 0;
  int reported = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    const RecordedRequest& request = requests[i];
    auto decision = policy->Evaluate(request.name, request.input);
    ASSERT_TRUE(decision.has_value()) << decision.error().message;
    const Value& want = recording.outputs[i];
    const std::vector<std::string>& want_prints = recording.prints[i];

    const bool value_ok = decision->value.has_value() && *decision->value == want;
    // The recording's lines start with "<file>:<line>: " of the print call.
    const std::vector<std::string> got_prints = decision->prints.Lines();
    const bool prints_ok = got_prints == want_prints;
    value_matches += value_ok ? 1 : 0;
    print_matches += prints_ok ? 1 : 0;
    if ((!value_ok || !prints_ok) && reported < 3) {
      ++reported;
      ADD_FAILURE() << session << " request #" << i << " " << request.name << ":\n"
                    << "  value: got " << (decision->value ? decision->value->ToJson() : "<undefined>") << ", want "
                    << want.ToJson() << (decision->error ? " (error: " + decision->error->message + ")" : "") << "\n"
                    << (prints_ok ? std::string()
                                  : "  prints: got\n" + Joined(got_prints) + "  want\n" + Joined(want_prints));
    }
  }
  RecordProperty("requests", static_cast<int>(requests.size()));
  RecordProperty("value_matches", value_matches);
  RecordProperty("print_matches", print_matches);
  std::cout << "[ session  ] " << session << ": " << requests.size() << " requests, " << value_matches << " values and "
            << print_matches << " print lists match\n";
  EXPECT_EQ(value_matches, static_cast<int>(requests.size()));
  EXPECT_EQ(print_matches, static_cast<int>(requests.size()));
}

// As the agent runs it (prints only for denials, so function bodies that
// cannot change a result are skipped): the same decisions and the same
// policy state after every request as a full evaluation, the recorded
// prints for every denial and none for an allow.
TEST_P(AgentSessionTest, DecidesAsTheAgentDoes) {
  const std::string session = GetParam();
  const Recording& recording = recording_;
  const std::vector<RecordedRequest>& requests = recording.requests;
  auto agent = AgentPolicy::Load(recording.policy_text, recording.options);
  auto full = AgentPolicy::Load(recording.policy_text, recording.options);
  ASSERT_TRUE(agent.has_value() && full.has_value());

  int denials = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    const RecordedRequest& request = requests[i];
    SCOPED_TRACE(session + " request #" + std::to_string(i) + " " + request.name);
    auto fast = agent->Evaluate(request.name, request.input, nullptr, PrintCapture::kDenials);
    auto reference = full->Evaluate(request.name, request.input);
    ASSERT_TRUE(fast.has_value() && reference.has_value());
    ASSERT_TRUE(fast->value.has_value());
    EXPECT_EQ(*fast->value, recording.outputs[i]);
    EXPECT_EQ(fast->allowed, reference->allowed);
    EXPECT_EQ(fast->reason, reference->reason);
    EXPECT_EQ(agent->data(), full->data()) << "the policy state differs";
    if (fast->allowed) {
      EXPECT_TRUE(fast->prints.Lines().empty());
    } else {
      ++denials;
      EXPECT_EQ(fast->prints.Lines(), recording.prints[i]);
    }
  }
  // Every recording starts with the AllowRequestsFailingPolicy probe, which
  // the policies deny: the denial path is exercised in each.
  EXPECT_GE(denials, 1);
}

INSTANTIATE_TEST_SUITE_P(Recorded, AgentSessionTest,
                         ::testing::Values("k8s-policy-job", "k8s-policy-pod", "k8s-policy-rc", "pod-cm1", "pod-cm2",
                                           "pod-exec", "pod-lifecycle", "pod-many-layers", "pod-persistent-volumes",
                                           "pod-same-containers", "web", "web2"),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                           std::string name = param.param;
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

TEST(AgentSessionLargePolicyTest, LargeRegoLoads) {
  CONTRAST_REQUIRE_TESTDATA();
  const Bytes text = contrast::testing::ReadTestdata("kata/agent-sessions/large.rego");
  AgentPolicyOptions options;
  options.version = RegoVersion::kV0;
  options.filename = "large.rego";
  auto policy = AgentPolicy::Load(AsChars(text), options);
  ASSERT_TRUE(policy.has_value()) << policy.error().message;
  auto decision = policy->Evaluate("StartContainerRequest", Value::FromObject({}));
  ASSERT_TRUE(decision.has_value());
  EXPECT_TRUE(decision->allowed);
  auto exec = policy->Evaluate("SetPolicyRequest", Value::FromObject({}));
  ASSERT_TRUE(exec.has_value());
  EXPECT_FALSE(exec->allowed);
}

}  // namespace
}  // namespace contrast::policy::rego
