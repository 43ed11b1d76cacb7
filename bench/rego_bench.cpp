// Kata agent policy decision latency: one recorded session's policy
// (pod-exec from the shared test data), each request kind present in it
// decided by the same AgentPolicy, against the cost of parsing that request's
// JSON alone (the floor every decision pays in the agent).
//
// Before each timed evaluation the policy state is reset to what it was when
// the session reached that request, so every iteration decides the same
// thing. Results are checked once against the recording before timing.
// DecideAsAgent decides as the Kata agent needs it (PrintCapture::kDenials:
// prints only for a denial); Decide captures every print as values, as the
// recordings hold them; DecideAndRenderPrints adds rendering them as text.
// Target: CreateContainerRequest median < 100 us.
//
// Usage: rego_bench [--testdata DIR] [--session NAME] [google benchmark flags]
//        rego_bench --latency-report [--testdata DIR] [--rounds N] [--per-request KIND]
//        rego_bench --repeat KIND N [--position P] [--session NAME] [--testdata DIR]
//
// --latency-report replays all 12 recorded sessions instead: the load time of
// each policy (parse + compile), then every request of every session decided
// N times each way (state reset to the recording before each), in passes
// over the session that alternate between the ways, and per request kind the
// median and p99 latency over all those decisions: as the agent decides
// (prints only for denials, rendered), with every print captured, and with
// every print rendered; and the median cost of parsing the request's JSON as
// the in-process baseline. --per-request KIND then lists every request of
// that kind on its own (session and position), slowest last.
//
// --repeat decides the session's largest request of KIND (or the one at
// position P, as --per-request lists them) N times as the agent does and
// prints the time per decision: a steady workload for
// profilers (valgrind --tool=callgrind --toggle-collect='*AgentPolicy::Evaluate*').
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "common/files.h"
#include "policy/rego/agent.h"

namespace {

using namespace contrast;
using namespace contrast::policy::rego;

struct Recorded {
  std::string name;
  std::string json;  // the input's text, for the parse baseline
  Value input;
  Value state_before;  // data document when the session reached this request
  Value want;
};

struct Session {
  std::optional<AgentPolicy> policy;
  std::vector<Recorded> requests;
};

Session* g_session = nullptr;

std::vector<std::pair<std::string, std::string>> SplitInputs(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> out;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    constexpr std::string_view kPrefix = R"(["ep":")";
    const size_t name_end = line.find("\",", kPrefix.size());
    if (!line.starts_with(kPrefix) || name_end == std::string::npos || !line.ends_with("],")) continue;
    const size_t json_begin = name_end + 2;
    out.emplace_back(line.substr(kPrefix.size(), name_end - kPrefix.size()),
                     line.substr(json_begin, line.size() - 2 - json_begin));
  }
  return out;
}

bool LoadSession(const std::string& testdata, const std::string& name, Session& session) {
  const std::string dir = testdata + "/kata/agent-sessions/" + name + "/";
  auto policy_text = ReadTextFile(dir + "policy.rego");
  auto inputs = ReadTextFile(dir + "inputs.txt");
  auto outputs_text = ReadTextFile(dir + "outputs.json");
  if (!policy_text || !inputs || !outputs_text) {
    std::fprintf(stderr, "cannot read the session %s\n", dir.c_str());
    return false;
  }
  auto outputs = Value::FromJson(*outputs_text);
  AgentPolicyOptions options;
  options.version = RegoVersion::kV0;
  options.filename = "tests/kata/data/" + name + "/policy.rego";
  auto policy = AgentPolicy::Load(*policy_text, options);
  if (!policy || !outputs) {
    std::fprintf(stderr, "cannot load the session: %s\n", policy ? "outputs.json" : policy.error().message.c_str());
    return false;
  }
  const auto split = SplitInputs(*inputs);
  for (size_t i = 0; i < split.size() && i < outputs->as_array().size(); ++i) {
    auto input = Value::FromJson(split[i].second);
    if (!input) return false;
    Recorded r{split[i].first, split[i].second, *input, policy->data(), outputs->as_array()[i]};
    // Both ways of deciding must give the recorded result.
    auto agent = policy->Evaluate(r.name, r.input, nullptr, PrintCapture::kDenials);
    policy->SetData(r.state_before);
    auto decision = policy->Evaluate(r.name, r.input);  // replay, so later requests see the right state
    if (!decision || !decision->value || *decision->value != r.want || !agent || !agent->value ||
        *agent->value != r.want) {
      std::fprintf(stderr, "request #%zu %s does not match the recording\n", i, r.name.c_str());
      return false;
    }
    session.requests.push_back(std::move(r));
  }
  session.policy.emplace(std::move(*policy));
  return true;
}

// As the agent decides: prints only for a denial.
void BM_DecideAsAgent(benchmark::State& state, const Recorded* request) {
  AgentPolicy& policy = *g_session->policy;
  for (auto _ : state) {
    policy.SetData(request->state_before);
    auto decision = policy.Evaluate(request->name, request->input, nullptr, PrintCapture::kDenials);
    benchmark::DoNotOptimize(decision);
  }
}

void BM_Decide(benchmark::State& state, const Recorded* request) {
  AgentPolicy& policy = *g_session->policy;
  for (auto _ : state) {
    policy.SetData(request->state_before);
    auto decision = policy.Evaluate(request->name, request->input);
    benchmark::DoNotOptimize(decision);
  }
}

// As BM_Decide, and the prints rendered as text (what a denial returns).
void BM_DecideAndRenderPrints(benchmark::State& state, const Recorded* request) {
  AgentPolicy& policy = *g_session->policy;
  for (auto _ : state) {
    policy.SetData(request->state_before);
    auto decision = policy.Evaluate(request->name, request->input);
    auto lines = decision->prints.Lines();
    benchmark::DoNotOptimize(lines);
  }
}

void BM_ParseInput(benchmark::State& state, const Recorded* request) {
  for (auto _ : state) {
    auto value = Value::FromJson(request->json);
    benchmark::DoNotOptimize(value);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * request->json.size()));
}

void BM_ParseAndDecide(benchmark::State& state, const Recorded* request) {
  AgentPolicy& policy = *g_session->policy;
  for (auto _ : state) {
    policy.SetData(request->state_before);
    auto value = Value::FromJson(request->json);
    auto decision = policy.Evaluate(request->name, *value);
    benchmark::DoNotOptimize(decision);
  }
}

using Clock = std::chrono::steady_clock;

// "web #25": a request by session and position in it.
std::string RequestLabel(const std::string& session_name, const Session& session, const Recorded& request) {
  return session_name + " #" + std::to_string(&request - session.requests.data());
}

double MicrosSince(Clock::time_point start) {
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

double Percentile(std::vector<double> samples, double p) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  const size_t index = std::min(samples.size() - 1, static_cast<size_t>(p * static_cast<double>(samples.size())));
  return samples[index];
}

// The whole recorded data set: load times, then latency per request kind.
int LatencyReport(const std::string& testdata, int rounds, const std::string& per_request_kind) {
  const std::filesystem::path root = std::filesystem::path(testdata) / "kata/agent-sessions";
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(root, ec)) {
    if (entry.is_directory()) names.push_back(entry.path().filename().string());
  }
  if (ec || names.empty()) {
    std::fprintf(stderr, "no sessions under %s\n", root.c_str());
    return 1;
  }
  std::sort(names.begin(), names.end());
  std::map<std::string, std::vector<double>> agent;
  std::map<std::string, std::vector<double>> decide;
  std::map<std::string, std::vector<double>> rendered;
  std::map<std::string, std::vector<double>> parse;
  // --per-request: "session #position" -> agent and all-prints samples.
  std::map<std::string, std::pair<std::vector<double>, std::vector<double>>> per_request;
  std::printf("%-24s %10s %12s\n", "policy", "bytes", "load (ms)");
  for (const std::string& name : names) {
    auto text = ReadTextFile(root / name / "policy.rego");
    if (!text) return 1;
    AgentPolicyOptions options;
    options.version = RegoVersion::kV0;
    const auto load_start = Clock::now();
    auto policy = AgentPolicy::Load(*text, options);
    const double load_ms = MicrosSince(load_start) / 1000;
    if (!policy) {
      std::fprintf(stderr, "%s: %s\n", name.c_str(), policy.error().message.c_str());
      return 1;
    }
    std::printf("%-24s %10zu %12.2f\n", name.c_str(), text->size(), load_ms);
    Session session;
    if (!LoadSession(testdata, name, session)) return 1;  // checks every decision against the recording
    // A pass decides every request of the session in order, in one mode,
    // as an agent would; passes alternate between the modes, so that both
    // see the same drift of the machine. (Deciding each request both ways
    // back to back instead changes the medians by 2-4 %, docs/rego.md.)
    for (int pass = 0; pass < 2 * rounds; ++pass) {
      const bool agent_pass = pass % 2 == 0;
      for (const Recorded& request : session.requests) {
        // As the agent decides: prints only for a denial, rendered as text.
        const auto as_agent = [&]() {
          session.policy->SetData(request.state_before);
          const auto start = Clock::now();
          auto decision = session.policy->Evaluate(request.name, request.input, nullptr, PrintCapture::kDenials);
          if (!decision->allowed) {
            auto denial = decision->prints.Lines();
            benchmark::DoNotOptimize(denial);
          }
          const double micros = MicrosSince(start);
          agent[request.name].push_back(micros);
          if (request.name == per_request_kind)
            per_request[RequestLabel(name, session, request)].first.push_back(micros);
          benchmark::DoNotOptimize(decision);
        };
        // Every print captured, then rendered.
        const auto with_prints = [&]() {
          session.policy->SetData(request.state_before);
          const auto start = Clock::now();
          auto decision = session.policy->Evaluate(request.name, request.input);
          const double decided = MicrosSince(start);
          decide[request.name].push_back(decided);
          if (request.name == per_request_kind) {
            per_request[RequestLabel(name, session, request)].second.push_back(decided);
          }
          const auto render_start = Clock::now();
          auto lines = decision->prints.Lines();
          rendered[request.name].push_back(decided + MicrosSince(render_start));
          benchmark::DoNotOptimize(lines);
          benchmark::DoNotOptimize(decision);
        };
        if (!agent_pass) {
          with_prints();
          continue;
        }
        as_agent();
        const auto parse_start = Clock::now();
        auto value = Value::FromJson(request.json);
        parse[request.name].push_back(MicrosSince(parse_start));
        benchmark::DoNotOptimize(value);
      }
    }
  }
  // "agent": PrintCapture::kDenials, plus rendering the prints of a denial;
  // "all prints": the decision with every print captured as values;
  // "+ render": the same plus rendering them as text.
  std::printf("\n%-30s %7s %10s %9s %10s %9s %10s %9s %10s\n", "", "", "agent", "", "all prints", "", "+ render", "",
              "parse JSON");
  std::printf("%-30s %7s %10s %9s %10s %9s %10s %9s %10s\n", "request kind", "samples", "median", "p99", "median",
              "p99", "median", "p99", "median");
  for (const auto& [kind, samples] : decide) {
    std::printf("%-30s %7zu %10.1f %9.1f %10.1f %9.1f %10.1f %9.1f %10.1f\n", kind.c_str(), samples.size(),
                Percentile(agent[kind], 0.5), Percentile(agent[kind], 0.99), Percentile(samples, 0.5),
                Percentile(samples, 0.99), Percentile(rendered[kind], 0.5), Percentile(rendered[kind], 0.99),
                Percentile(parse[kind], 0.5));
  }
  std::printf(
      "(microseconds; agent: prints only for denials, as the Kata agent returns them; parse JSON: the\n"
      " request's JSON parsed alone, the in-process baseline)\n");
  if (!per_request_kind.empty()) {
    std::vector<std::tuple<double, double, std::string>> rows;
    for (const auto& [label, samples] : per_request) {
      rows.emplace_back(Percentile(samples.first, 0.5), Percentile(samples.second, 0.5), label);
    }
    std::sort(rows.begin(), rows.end());
    std::printf("\n%s, each request: median agent / all prints (microseconds)\n", per_request_kind.c_str());
    for (const auto& [as_agent, all_prints, label] : rows) {
      std::printf("  %-32s %10.1f %10.1f\n", label.c_str(), as_agent, all_prints);
    }
  }
  return 0;
}

// The largest recorded request of `kind` in the session, nullptr when none.
const Recorded* LargestRequest(const Session& session, const std::string& kind) {
  const Recorded* largest = nullptr;
  for (const Recorded& r : session.requests) {
    if (r.name == kind && (largest == nullptr || r.json.size() > largest->json.size())) largest = &r;
  }
  return largest;
}

// --repeat: one request decided `count` times as the agent does.
int Repeat(Session& session, const std::string& kind, int count, int position) {
  const Recorded* request = LargestRequest(session, kind);
  if (position >= 0) {
    const bool valid = static_cast<size_t>(position) < session.requests.size() &&
                       session.requests[static_cast<size_t>(position)].name == kind;
    request = valid ? &session.requests[static_cast<size_t>(position)] : nullptr;
  }
  if (request == nullptr) {
    std::fprintf(stderr, "the session has no such %s\n", kind.c_str());
    return 1;
  }
  const auto start = Clock::now();
  for (int i = 0; i < count; ++i) {
    session.policy->SetData(request->state_before);
    auto decision = session.policy->Evaluate(request->name, request->input, nullptr, PrintCapture::kDenials);
    benchmark::DoNotOptimize(decision);
  }
  std::printf("%s #%zu: %.1f us per decision (%d decisions)\n", kind.c_str(),
              static_cast<size_t>(request - session.requests.data()), MicrosSince(start) / count, count);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string testdata = CONTRAST_TESTDATA_DIR;
  std::string session_name = "pod-exec";
  std::vector<char*> rest{argv[0]};
  bool latency_report = false;
  int rounds = 20;
  std::string per_request_kind;
  std::string repeat_kind;
  int repeat_count = 0;
  int position = -1;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--latency-report") == 0) {
      latency_report = true;
    } else if (std::strcmp(argv[i], "--per-request") == 0 && i + 1 < argc) {
      per_request_kind = argv[++i];
    } else if (std::strcmp(argv[i], "--repeat") == 0 && i + 2 < argc) {
      repeat_kind = argv[++i];
      repeat_count = std::max(1, std::atoi(argv[++i]));
    } else if (std::strcmp(argv[i], "--position") == 0 && i + 1 < argc) {
      position = std::atoi(argv[++i]);
    } else if (std::strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
      rounds = std::max(1, std::atoi(argv[++i]));
    } else if (std::strcmp(argv[i], "--testdata") == 0 && i + 1 < argc) {
      testdata = argv[++i];
    } else if (std::strcmp(argv[i], "--session") == 0 && i + 1 < argc) {
      session_name = argv[++i];
    } else {
      rest.push_back(argv[i]);
    }
  }
  if (latency_report) return LatencyReport(testdata, rounds, per_request_kind);
  static Session session;
  if (!LoadSession(testdata, session_name, session)) return 1;
  if (!repeat_kind.empty()) return Repeat(session, repeat_kind, repeat_count, position);
  g_session = &session;

  // One benchmark per request kind: its first occurrence, with the largest
  // input of that kind when it occurs several times (the slow case).
  std::map<std::string, const Recorded*> by_kind;
  for (const Recorded& r : session.requests) {
    if (!by_kind.contains(r.name)) by_kind.emplace(r.name, LargestRequest(session, r.name));
  }
  for (const auto& [kind, request] : by_kind) {
    benchmark::RegisterBenchmark(("DecideAsAgent/" + kind).c_str(), BM_DecideAsAgent, request)
        ->Unit(benchmark::kMicrosecond)
        ->Repetitions(10)
        ->ReportAggregatesOnly(true);
    benchmark::RegisterBenchmark(("Decide/" + kind).c_str(), BM_Decide, request)
        ->Unit(benchmark::kMicrosecond)
        ->Repetitions(10)
        ->ReportAggregatesOnly(true);
    benchmark::RegisterBenchmark(("DecideAndRenderPrints/" + kind).c_str(), BM_DecideAndRenderPrints, request)
        ->Unit(benchmark::kMicrosecond)
        ->Repetitions(10)
        ->ReportAggregatesOnly(true);
    benchmark::RegisterBenchmark(("ParseInputJson/" + kind).c_str(), BM_ParseInput, request)
        ->Unit(benchmark::kMicrosecond)
        ->Repetitions(10)
        ->ReportAggregatesOnly(true);
  }
  for (const char* kind : {"CreateContainerRequest", "ExecProcessRequest"}) {
    if (auto it = by_kind.find(kind); it != by_kind.end()) {
      benchmark::RegisterBenchmark((std::string("ParseAndDecide/") + kind).c_str(), BM_ParseAndDecide, it->second)
          ->Unit(benchmark::kMicrosecond)
          ->Repetitions(10)
          ->ReportAggregatesOnly(true);
    }
  }
  int bench_argc = static_cast<int>(rest.size());
  benchmark::Initialize(&bench_argc, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
