// `contrast generate` over a large deployment: 1,000 Deployments with two
// containers each, 20 distinct images, served by a real registry (Debian's
// docker-registry on a loopback port) through --registry-mirror.
//
// Runs the real `contrast` binary as a child process, so wall time and peak
// RSS (from wait4) are the command's own:
//   1. cold cache: every manifest, config and layer comes from the registry;
//      each distinct layer must be fetched exactly once;
//   2. warm cache: the same inputs again with the filled cache;
//   3. baseline: parsing the same YAML files with yaml-cpp, in this process.
// Prints each, and the warm run as a multiple of the baseline.
//
//   generate_bench [--deployments N] [--images N] [--contrast PATH]
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "support/registry.h"

namespace {

namespace fs = std::filesystem;
using contrast::testing::TestImage;
using contrast::testing::TestLayer;
using contrast::testing::TestRegistry;

struct Run {
  int code = -1;
  double seconds = 0;
  long max_rss_kib = 0;
  std::string output;
};

// Runs argv, capturing its output; wall time and peak RSS from wait4.
Run RunChild(const std::vector<std::string>& args, const fs::path& log) {
  Run run;
  const auto start = std::chrono::steady_clock::now();
  std::fflush(stdout);  // the child must not inherit (and print again) buffered output
  const pid_t pid = fork();
  if (pid == 0) {
    FILE* out = std::freopen(log.c_str(), "w", stdout);
    if (out == nullptr) _exit(127);
    dup2(fileno(stdout), fileno(stderr));
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  rusage usage{};
  wait4(pid, &status, 0, &usage);
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  run.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  run.max_rss_kib = usage.ru_maxrss;
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  run.output = text.str();
  return run;
}

// Image i: a base layer shared by all (with /etc/group) and a layer of its
// own (with /etc/passwd), so a resolver must read both layers of every image
// and can share the base.
TestImage BenchImage(int i) {
  TestImage image;
  image.config.entrypoint = {"/bin/app" + std::to_string(i)};
  image.config.cmd = {"--serve"};
  image.config.env = {"PATH=/usr/local/bin:/usr/bin:/bin", "APP=" + std::to_string(i)};
  image.config.working_dir = "/srv";
  image.config.user = "app";
  TestLayer base;
  base.files = {{"etc/group", "root:x:0:\napp:x:1000:\n"}};
  TestLayer own;
  own.files = {{"etc/passwd", "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/srv:/bin/false\n"},
               {"bin/app" + std::to_string(i), std::string(4096, static_cast<char>('a' + i % 26)), 0755}};
  image.layers = {base, own};
  return image;
}

void WriteInputs(const fs::path& dir, int deployments, int images) {
  fs::create_directories(dir);
  std::ofstream out(dir / "apps.yml");
  for (int d = 0; d < deployments; ++d) {
    const int a = d % images;
    const int b = (d * 7 + 3) % images;
    out << "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-" << d
        << "\n  namespace: bench\nspec:\n  replicas: 2\n  selector:\n    matchLabels:\n      app: app-" << d
        << "\n  template:\n    metadata:\n      labels:\n        app: app-" << d
        << "\n    spec:\n      runtimeClassName: contrast-cc\n      containers:\n        - name: main\n"
        << "          image: bench.example/app" << a << ":v1\n          env:\n            - name: INDEX\n"
        << "              value: \"" << d << "\"\n          ports:\n            - containerPort: 8080\n"
        << "        - name: sidecar\n          image: bench.example/app" << b << ":v1\n"
        << "          args: [\"--sidecar\", \"--port\", \"9090\"]\n";
  }
  std::ofstream coordinator(dir / "coordinator.yml");
  coordinator << "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: coordinator\n  namespace: bench\nspec:\n"
                 "  serviceName: coordinator\n  selector:\n    matchLabels:\n      app: coordinator\n  template:\n"
                 "    metadata:\n      labels:\n        app: coordinator\n      annotations:\n"
                 "        contrast.edgeless.systems/pod-role: coordinator\n    spec:\n"
                 "      runtimeClassName: contrast-cc\n      containers:\n        - name: coordinator\n"
                 "          image: bench.example/app0:v1\n";
}

double ParseSeconds(const std::vector<fs::path>& files) {
  const auto start = std::chrono::steady_clock::now();
  size_t documents = 0;
  for (const fs::path& file : files) {
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    documents += YAML::LoadAll(text.str()).size();
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("baseline: yaml-cpp parses the %zu input documents in %.3f s\n", documents, seconds);
  return seconds;
}

}  // namespace

int main(int argc, char** argv) {
  int deployments = 1000;
  int images = 20;
  std::string contrast = CONTRAST_BINARY;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--deployments") deployments = std::stoi(argv[i + 1]);
    if (flag == "--images") images = std::stoi(argv[i + 1]);
    if (flag == "--contrast") contrast = argv[i + 1];
  }
  if (!TestRegistry::Available()) {
    std::fprintf(stderr, "generate_bench: docker-registry is not installed (scripts/setup installs it)\n");
    return 2;
  }
  TestRegistry registry;
  if (!registry.ok()) return 2;
  for (int i = 0; i < images; ++i) {
    if (registry.PushImage("app" + std::to_string(i), "v1", BenchImage(i)).empty()) return 2;
  }
  const fs::path dir = fs::temp_directory_path() / ("contrast-generate-bench-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path cache = dir / "cache";
  const std::string pem = (dir / "workload-owner.pem").string();

  auto generate = [&](const fs::path& work, const std::string& label) {
    WriteInputs(work / "input", deployments, images);
    Run run = RunChild({contrast, "generate", "--workspace-dir", work.string(), "--reference-values", "emulated",
                        "--emulated-state-dir", (dir / "sp").string(), "--cache-dir", cache.string(),
                        "--registry-mirror", "bench.example=" + registry.Host(), "--initializer-image",
                        "bench.example/app1:v1", "-w", pem, (work / "input").string()},
                       dir / (label + ".log"));
    std::printf("%s: exit %d, %.3f s wall, peak RSS %.1f MiB\n", label.c_str(), run.code, run.seconds,
                static_cast<double>(run.max_rss_kib) / 1024.0);
    std::smatch fetched;
    if (std::regex_search(run.output, fetched,
                          std::regex("[0-9]+ manifest\\(s\\) and [0-9]+ blob\\(s\\) fetched "
                                     "\\([0-9]+ layer\\(s\\)\\), [0-9]+ from the cache"))) {
      std::printf("  %s\n", fetched.str().c_str());
    }
    if (run.code != 0) std::fprintf(stderr, "%s\n", run.output.c_str());
    return run;
  };

  // The emulator state only supplies the emulated reference values.
  Run init = RunChild({contrast, "emulate", "init", "--state-dir", (dir / "sp").string()}, dir / "init.log");
  if (init.code != 0) {
    std::fprintf(stderr, "%s\n", init.output.c_str());
    return 1;
  }
  const Run cold = generate(dir / "cold", "cold cache");
  std::printf("  distinct layers in the registry: %d (one shared base, one per image)\n", images + 1);
  const Run warm = generate(dir / "warm", "warm cache");
  WriteInputs(dir / "baseline", deployments, images);
  const double baseline = ParseSeconds({dir / "baseline/apps.yml", dir / "baseline/coordinator.yml"});
  std::printf("warm run / yaml-cpp parse of the same files: %.1fx\n", warm.seconds / baseline);
  fs::remove_all(dir);
  return cold.code == 0 && warm.code == 0 ? 0 : 1;
}
