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

class AgentSessionTest : public ::testing::TestWithParam<std::string> {};

TEST_P(AgentSessionTest, ReplaysEveryRequest) {
  CONTRAST_REQUIRE_TESTDATA();
  const std::string session = GetParam();
  const std::string dir = "kata/agent-sessions/" + session + "/";
  const Bytes policy_text = contrast::testing::ReadTestdata(dir + "policy.rego");
  const Bytes inputs_text = contrast::testing::ReadTestdata(dir + "inputs.txt");
  auto outputs = Value::FromJson(AsChars(contrast::testing::ReadTestdata(dir + "outputs.json")));
  auto prints = Value::FromJson(AsChars(contrast::testing::ReadTestdata(dir + "prints.json")));
  ASSERT_TRUE(outputs.has_value() && outputs->is_array());
  ASSERT_TRUE(prints.has_value() && prints->is_array());

  std::string error;
  const std::vector<RecordedRequest> requests = ParseInputs(AsChars(inputs_text), &error);
  ASSERT_TRUE(error.empty()) << error;
  ASSERT_EQ(requests.size(), outputs->as_array().size());
  ASSERT_EQ(requests.size(), prints->as_array().size());

  // The recording names the module by its path in the regorus repository,
  // and every print line starts with that path.
  AgentPolicyOptions options;
  options.version = RegoVersion::kV0;
  options.filename = "tests/kata/data/" + session + "/policy.rego";
  auto policy = AgentPolicy::Load(AsChars(policy_text), options);
  ASSERT_TRUE(policy.has_value()) << policy.error().message;

  int value_matches = 0;
  int print_matches = 0;
  int reported = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    const RecordedRequest& request = requests[i];
    auto decision = policy->Evaluate(request.name, request.input);
    ASSERT_TRUE(decision.has_value()) << decision.error().message;
    const Value& want = outputs->as_array()[i];
    std::vector<std::string> want_prints;
    for (const Value& line : prints->as_array()[i].as_array()) want_prints.push_back(line.as_string());

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
