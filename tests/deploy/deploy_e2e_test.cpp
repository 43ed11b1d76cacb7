// The deployment bundle and the container images, checked with the tools a
// user runs: `kubectl kustomize deploy/` accepts every file in deploy/ and
// the HA variant deploy/ha/; scripts/ha-certs' certificates secure the etcd
// cluster of deploy/ha/, run with the local etcd on loopback; and
// `scripts/images --check` builds the images twice (fresh storage each time)
// with the same digests and runs each image's binary under runc. Without the
// tools (or root, for runc) the tests skip with the reason; under CI=true
// they fail instead.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <yaml-cpp/yaml.h>

#include "common/bytes.h"
#include "common/files.h"
#include "support/process.h"

namespace contrast {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const fs::path kSourceDir = CONTRAST_SOURCE_DIR;

bool UnderCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

// The program `name` on PATH, or "" (RunProcess execs a path).
std::string FindOnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  const std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  for (size_t start = 0; start <= dirs.size();) {
    const size_t end = std::min(dirs.find(':', start), dirs.size());
    const fs::path candidate = fs::path(dirs.substr(start, end - start)) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    start = end + 1;
  }
  return "";
}

// The first of `names` missing from PATH, or "".
std::string MissingTool(std::initializer_list<const char*> names) {
  for (const char* name : names) {
    if (FindOnPath(name).empty()) return name;
  }
  return "";
}

#define REQUIRE_OR_SKIP(condition, reason)                        \
  do {                                                            \
    if (!(condition)) {                                           \
      if (UnderCi()) FAIL() << (reason) << " and CI=true";        \
      GTEST_SKIP() << (reason) << " (scripts/setup installs it)"; \
    }                                                             \
  } while (0)

class DeployE2e : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("contrast-deploy-e2e-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(DeployE2e, KustomizeAcceptsEveryFileOfTheBundle) {
  const std::string missing = MissingTool({"kubectl"});
  REQUIRE_OR_SKIP(missing.empty(), missing + " is not installed");
  const testing::Completed run =
      testing::RunProcess({FindOnPath("kubectl"), "kustomize", (kSourceDir / "deploy").string()},
                          dir_ / "kustomize.log", {}, std::chrono::seconds(60));
  ASSERT_EQ(run.code, 0) << run.output;

  // Every file in deploy/ is a resource of the kustomization (so kustomize
  // read and accepted it).
  const YAML::Node kustomization = YAML::LoadFile((kSourceDir / "deploy/kustomization.yaml").string());
  std::set<std::string> resources;
  for (const YAML::Node& resource : kustomization["resources"]) resources.insert(resource.as<std::string>());
  for (const auto& entry : fs::directory_iterator(kSourceDir / "deploy")) {
    const std::string name = entry.path().filename().string();
    if (name == "kustomization.yaml" || entry.is_directory()) continue;  // ha/: a bundle of its own
    EXPECT_TRUE(resources.contains(name)) << name << " is not listed in deploy/kustomization.yaml";
  }

  std::multiset<std::string> kinds;
  std::map<std::string, std::string> images;  // container -> image
  std::string handler;
  for (const YAML::Node& object : YAML::LoadAll(run.output)) {
    const std::string kind = object["kind"].as<std::string>();
    kinds.insert(kind);
    if (kind == "RuntimeClass") {
      EXPECT_EQ(object["metadata"]["name"].as<std::string>(), "contrast-cc");
      handler = object["handler"].as<std::string>();
    }
    if (kind == "Pod" || kind == "StatefulSet") {
      const YAML::Node spec = kind == "Pod" ? object["spec"] : object["spec"]["template"]["spec"];
      for (const YAML::Node& container : spec["containers"]) {
        images[object["metadata"]["name"].as<std::string>() + "/" + container["name"].as<std::string>()] =
            container["image"].as<std::string>();
      }
    }
  }
  EXPECT_EQ(kinds,
            (std::multiset<std::string>{"Pod", "RuntimeClass", "Service", "Service", "ServiceAccount", "StatefulSet"}));
  EXPECT_EQ(handler, "contrast-cc");
  EXPECT_EQ(images["coordinator/coordinator"], "ghcr.io/contrast-cpp/coordinator:v0.1.0");
  EXPECT_EQ(images["port-forwarder-coordinator/userapi"], "ghcr.io/contrast-cpp/port-forwarder:v0.1.0");
}

// The objects of a rendered bundle by "Kind/name".
std::map<std::string, YAML::Node> ObjectsByKindAndName(const std::string& rendered) {
  std::map<std::string, YAML::Node> objects;
  for (const YAML::Node& object : YAML::LoadAll(rendered)) {
    objects[object["kind"].as<std::string>() + "/" + object["metadata"]["name"].as<std::string>()] = object;
  }
  return objects;
}

YAML::Node OnlyContainer(const YAML::Node& stateful_set) {
  const YAML::Node containers = stateful_set["spec"]["template"]["spec"]["containers"];
  EXPECT_EQ(containers.size(), 1u);
  return containers[0];
}

std::vector<std::string> Strings(const YAML::Node& list) {
  std::vector<std::string> out;
  for (const YAML::Node& item : list) out.push_back(item.as<std::string>());
  return out;
}

// The value of "--name=value" in `args`, or "".
std::string FlagValue(const std::vector<std::string>& args, const std::string& name) {
  for (const std::string& arg : args) {
    if (arg.starts_with(name + "=")) return arg.substr(name.size() + 1);
  }
  return "";
}

// Pods of `stateful_set` prefer distinct nodes from each other.
void ExpectSpreadOverNodes(const YAML::Node& stateful_set) {
  const YAML::Node preferred = stateful_set["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
                                           ["preferredDuringSchedulingIgnoredDuringExecution"];
  ASSERT_TRUE(preferred.IsSequence()) << YAML::Dump(stateful_set["spec"]["template"]["spec"]);
  const YAML::Node term = preferred[0]["podAffinityTerm"];
  EXPECT_EQ(term["topologyKey"].as<std::string>(), "kubernetes.io/hostname");
  EXPECT_EQ(YAML::Dump(term["labelSelector"]["matchLabels"]),
            YAML::Dump(stateful_set["spec"]["selector"]["matchLabels"]));
}

TEST_F(DeployE2e, KustomizeAcceptsTheHaBundle) {
  const std::string missing = MissingTool({"kubectl"});
  REQUIRE_OR_SKIP(missing.empty(), missing + " is not installed");
  const std::string kubectl = FindOnPath("kubectl");
  const testing::Completed ha = testing::RunProcess({kubectl, "kustomize", (kSourceDir / "deploy/ha").string()},
                                                    dir_ / "kustomize-ha.log", {}, std::chrono::seconds(60));
  ASSERT_EQ(ha.code, 0) << ha.output;
  const testing::Completed single = testing::RunProcess({kubectl, "kustomize", (kSourceDir / "deploy").string()},
                                                        dir_ / "kustomize.log", {}, std::chrono::seconds(60));
  ASSERT_EQ(single.code, 0) << single.output;
  std::map<std::string, YAML::Node> objects = ObjectsByKindAndName(ha.output);
  std::map<std::string, YAML::Node> single_objects = ObjectsByKindAndName(single.output);

  std::set<std::string> names;
  for (const auto& [name, object] : objects) names.insert(name);
  EXPECT_EQ(names, (std::set<std::string>{"PodDisruptionBudget/coordinator", "PodDisruptionBudget/etcd",
                                          "Service/coordinator", "Service/coordinator-peers",
                                          "Service/coordinator-ready", "Service/etcd", "ServiceAccount/coordinator",
                                          "ServiceAccount/etcd", "StatefulSet/coordinator", "StatefulSet/etcd"}));

  // Three replicas on etcd, each otherwise the single bundle's Coordinator.
  const YAML::Node coordinator = objects["StatefulSet/coordinator"];
  const YAML::Node pod = coordinator["spec"]["template"];
  EXPECT_EQ(coordinator["spec"]["replicas"].as<int>(), 3);
  EXPECT_EQ(coordinator["spec"]["podManagementPolicy"].as<std::string>(), "Parallel");
  EXPECT_EQ(coordinator["spec"]["serviceName"].as<std::string>(), "coordinator-peers");
  EXPECT_EQ(pod["spec"]["runtimeClassName"].as<std::string>(), "contrast-cc");
  EXPECT_EQ(pod["metadata"]["annotations"]["contrast.edgeless.systems/pod-role"].as<std::string>(), "coordinator");
  ExpectSpreadOverNodes(coordinator);
  const YAML::Node container = OnlyContainer(coordinator);
  const YAML::Node single_container = OnlyContainer(single_objects["StatefulSet/coordinator"]);
  EXPECT_EQ(container["name"].as<std::string>(), "coordinator");
  for (const char* field : {"image", "env", "ports", "startupProbe", "livenessProbe", "readinessProbe", "resources"}) {
    EXPECT_EQ(YAML::Dump(container[field]), YAML::Dump(single_container[field])) << field;
  }
  const std::vector<std::string> args = Strings(container["args"]);
  EXPECT_EQ(FlagValue(args, "--store"), "etcd://etcd-0.etcd:2379,etcd-1.etcd:2379,etcd-2.etcd:2379/contrast");
  EXPECT_EQ(FlagValue(args, "--etcd-ca"), "/etc/contrast/etcd/ca.crt");
  EXPECT_EQ(FlagValue(args, "--etcd-cert"), "/etc/contrast/etcd/client.crt");
  EXPECT_EQ(FlagValue(args, "--etcd-key"), "/etc/contrast/etcd/client.key");
  EXPECT_EQ(FlagValue(args, "--peers-dns"), "coordinator-peers:7777");
  EXPECT_EQ(pod["spec"]["volumes"][0]["secret"]["secretName"].as<std::string>(), "etcd-client-tls");

  const YAML::Node peers = objects["Service/coordinator-peers"]["spec"];
  EXPECT_EQ(peers["clusterIP"].as<std::string>(), "None");
  EXPECT_TRUE(peers["publishNotReadyAddresses"].as<bool>());
  EXPECT_EQ(peers["ports"][0]["port"].as<int>(), 7777);
  for (const char* service : {"Service/coordinator", "Service/coordinator-ready"}) {
    EXPECT_EQ(YAML::Dump(objects[service]), YAML::Dump(single_objects[service])) << service;
  }

  // etcd: three members with TLS both ways, outside the confidential runtime.
  const YAML::Node etcd = objects["StatefulSet/etcd"];
  EXPECT_EQ(etcd["spec"]["replicas"].as<int>(), 3);
  EXPECT_EQ(etcd["spec"]["podManagementPolicy"].as<std::string>(), "Parallel");
  EXPECT_EQ(etcd["spec"]["serviceName"].as<std::string>(), "etcd");
  EXPECT_FALSE(etcd["spec"]["template"]["spec"]["runtimeClassName"]);
  EXPECT_EQ(etcd["spec"]["volumeClaimTemplates"].size(), 1u);
  ExpectSpreadOverNodes(etcd);
  const std::vector<std::string> etcd_args = Strings(OnlyContainer(etcd)["args"]);
  EXPECT_THAT(etcd_args, ::testing::IsSupersetOf({"--client-cert-auth", "--peer-client-cert-auth"}));
  EXPECT_EQ(OnlyContainer(etcd)["image"].as<std::string>(), "registry.example/etcd:v3.4.23");
  EXPECT_EQ(objects["Service/etcd"]["spec"]["clusterIP"].as<std::string>(), "None");
}

// Writes each entry of a Secret's data to dir/<key>, as the kubelet mounts it.
void MountSecret(const YAML::Node& secret, const fs::path& dir) {
  fs::create_directories(dir);
  for (const auto& entry : secret["data"]) {
    Result<Bytes> content = Base64Decode(entry.second.as<std::string>());
    ASSERT_TRUE(content) << entry.first.as<std::string>();
    ASSERT_TRUE(WriteFileAtomic(dir / entry.first.as<std::string>(), *content, 0400));
  }
}

std::set<std::string> DataKeys(const YAML::Node& secret) {
  std::set<std::string> keys;
  for (const auto& entry : secret["data"]) keys.insert(entry.first.as<std::string>());
  return keys;
}

std::string ReplaceAll(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

// scripts/ha-certs, checked with openssl, then its Secrets mounted into the
// etcd StatefulSet of deploy/ha/etcd.yml run as three members on loopback
// (its own flags, with pod addresses and paths mapped to local ones), and the
// Coordinator's client certificate used as deploy/ha/coordinator.yml uses it.
TEST_F(DeployE2e, HaCertsSecureTheHaBundlesEtcdCluster) {
  const std::string missing = MissingTool({"openssl", "etcd", "etcdctl"});
  REQUIRE_OR_SKIP(missing.empty(), missing + " is not installed");
  const std::string ns = "contrast-ha";
  const fs::path certs = dir_ / "certs";
  const testing::Completed made = testing::RunProcess(
      {(kSourceDir / "scripts/ha-certs").string(), "--out", certs.string(), "--namespace", ns, "--replicas", "3"},
      dir_ / "ha-certs.log");
  ASSERT_EQ(made.code, 0) << made.output;
  for (const char* secret :
       {"ca.key", "etcd-0.key", "etcd-1.key", "etcd-2.key", "client.key", "etcd-tls-secrets.yml"}) {
    EXPECT_EQ(fs::status(certs / secret).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write)
        << secret;
  }

  const std::string openssl = FindOnPath("openssl");
  const testing::Completed verified = testing::RunProcess(
      {openssl, "verify", "-CAfile", (certs / "ca.crt").string(), (certs / "etcd-0.crt").string(),
       (certs / "etcd-1.crt").string(), (certs / "etcd-2.crt").string(), (certs / "client.crt").string()},
      dir_ / "verify.log");
  ASSERT_EQ(verified.code, 0) << verified.output;
  EXPECT_THAT(verified.output, HasSubstr("client.crt: OK"));
  const auto extensions = [&](const std::string& cert) {
    return testing::RunProcess(
               {openssl, "x509", "-in", (certs / cert).string(), "-noout", "-ext", "subjectAltName,extendedKeyUsage"},
               dir_ / "x509.log")
        .output;
  };
  for (int member = 0; member < 3; ++member) {
    const std::string text = extensions("etcd-" + std::to_string(member) + ".crt");
    EXPECT_THAT(text, HasSubstr("TLS Web Server Authentication, TLS Web Client Authentication"));
    EXPECT_THAT(text, HasSubstr("DNS:localhost,"));
    EXPECT_THAT(text, HasSubstr("IP Address:127.0.0.1,"));
    for (int other = 0; other < 3; ++other) {
      const std::string host = "etcd-" + std::to_string(other) + ".etcd";
      EXPECT_THAT(text, HasSubstr("DNS:" + host + ","));
      EXPECT_THAT(text, HasSubstr("DNS:" + host + "." + ns + ".svc,"));
      EXPECT_THAT(text, HasSubstr("DNS:" + host + "." + ns + ".svc.cluster.local"));
    }
  }
  const std::string client_extensions = extensions("client.crt");
  EXPECT_THAT(client_extensions, HasSubstr("TLS Web Client Authentication"));
  EXPECT_THAT(client_extensions, ::testing::Not(HasSubstr("Server")));

  std::map<std::string, YAML::Node> secrets;
  for (const YAML::Node& secret : YAML::LoadAllFromFile((certs / "etcd-tls-secrets.yml").string())) {
    EXPECT_EQ(secret["kind"].as<std::string>(), "Secret");
    EXPECT_EQ(secret["metadata"]["namespace"].as<std::string>(), ns);
    secrets[secret["metadata"]["name"].as<std::string>()] = secret;
  }
  ASSERT_EQ(secrets.size(), 2u);
  EXPECT_EQ(DataKeys(secrets["etcd-member-tls"]),
            (std::set<std::string>{"ca.crt", "etcd-0.crt", "etcd-0.key", "etcd-1.crt", "etcd-1.key", "etcd-2.crt",
                                   "etcd-2.key"}));
  EXPECT_EQ(DataKeys(secrets["etcd-client-tls"]), (std::set<std::string>{"ca.crt", "client.crt", "client.key"}));
  const fs::path member_tls = dir_ / "etcd-member-tls";
  const fs::path client_tls = dir_ / "etcd-client-tls";
  ASSERT_NO_FATAL_FAILURE(MountSecret(secrets["etcd-member-tls"], member_tls));
  ASSERT_NO_FATAL_FAILURE(MountSecret(secrets["etcd-client-tls"], client_tls));

  // The bundle's etcd and Coordinator as written in deploy/ha.
  YAML::Node etcd, coordinator;
  for (const char* file : {"etcd.yml", "coordinator.yml"}) {
    for (const YAML::Node& object : YAML::LoadAllFromFile((kSourceDir / "deploy/ha" / file).string())) {
      if (object["kind"].as<std::string>() != "StatefulSet") continue;
      (object["metadata"]["name"].as<std::string>() == "etcd" ? etcd : coordinator) = object;
    }
  }
  ASSERT_TRUE(etcd && coordinator);
  const std::vector<std::string> client_args = Strings(OnlyContainer(coordinator)["args"]);
  // Every etcd name the Coordinators dial is in the member certificates.
  const std::string store = FlagValue(client_args, "--store");
  ASSERT_TRUE(store.starts_with("etcd://")) << store;
  for (const std::string& endpoint : Strings(YAML::Load("[" + store.substr(7, store.find('/', 7) - 7) + "]"))) {
    EXPECT_THAT(extensions("etcd-1.crt"), HasSubstr("DNS:" + endpoint.substr(0, endpoint.find(':')) + ","));
  }
  const auto client_file = [&](const std::string& flag) {
    return ReplaceAll(FlagValue(client_args, flag), "/etc/contrast/etcd/", client_tls.string() + "/");
  };

  std::set<uint16_t> ports;
  while (ports.size() < 9) ports.insert(testing::FreeLoopbackPort());
  const std::vector<uint16_t> port_list(ports.begin(), ports.end());
  const auto port = [&](int member, int kind) { return std::to_string(port_list[member * 3 + kind]); };
  const YAML::Node member_container = OnlyContainer(etcd);
  std::vector<std::unique_ptr<testing::ChildProcess>> members;
  std::string endpoints;
  for (int member = 0; member < 3; ++member) {
    std::vector<std::string> argv = {FindOnPath("etcd")};
    EXPECT_EQ(Strings(member_container["command"]), std::vector<std::string>{"/usr/local/bin/etcd"});
    for (std::string arg : Strings(member_container["args"])) {
      arg = ReplaceAll(arg, "$(POD_NAME)", "etcd-" + std::to_string(member));
      arg = ReplaceAll(arg, "$(POD_NAMESPACE)", ns);
      for (int other = 0; other < 3; ++other) {
        const std::string host = "etcd-" + std::to_string(other) + ".etcd." + ns + ".svc:";
        arg = ReplaceAll(arg, host + "2379", "127.0.0.1:" + port(other, 0));
        arg = ReplaceAll(arg, host + "2380", "127.0.0.1:" + port(other, 1));
      }
      arg = ReplaceAll(arg, "0.0.0.0:2379", "127.0.0.1:" + port(member, 0));
      arg = ReplaceAll(arg, "0.0.0.0:2380", "127.0.0.1:" + port(member, 1));
      arg = ReplaceAll(arg, "0.0.0.0:2381", "127.0.0.1:" + port(member, 2));
      arg = ReplaceAll(arg, "/etc/etcd/tls/", member_tls.string() + "/");
      arg = ReplaceAll(arg, "/var/lib/etcd/", (dir_ / ("etcd-" + std::to_string(member))).string() + "/");
      for (const char* pod_only : {"$(", "0.0.0.0", ".svc", "/etc/etcd", "/var/lib/etcd"}) {
        EXPECT_THAT(arg, ::testing::Not(HasSubstr(pod_only))) << "not mapped to a local equivalent";
      }
      argv.push_back(arg);
    }
    endpoints += (endpoints.empty() ? "" : ",") + std::string("https://127.0.0.1:") + port(member, 0);
    members.push_back(
        std::make_unique<testing::ChildProcess>(argv, dir_ / ("etcd-" + std::to_string(member) + ".log")));
  }
  const std::vector<std::string> etcdctl = {FindOnPath("etcdctl"), "--endpoints=" + endpoints,
                                            "--cacert=" + client_file("--etcd-ca"), "--dial-timeout=1s",
                                            "--command-timeout=3s"};
  const auto run_etcdctl = [&](std::vector<std::string> args, bool with_client_cert) {
    std::vector<std::string> argv = etcdctl;
    if (with_client_cert) {
      argv.push_back("--cert=" + client_file("--etcd-cert"));
      argv.push_back("--key=" + client_file("--etcd-key"));
    }
    argv.insert(argv.end(), args.begin(), args.end());
    return testing::RunProcess(argv, dir_ / "etcdctl.log", {{"ETCDCTL_API", "3"}}, std::chrono::seconds(30));
  };
  const bool up = members[0]->WaitUntil(
      [&] {
        if (!members[1]->running() || !members[2]->running()) return true;
        return run_etcdctl({"endpoint", "health"}, true).code == 0;
      },
      std::chrono::seconds(60));
  for (auto& member : members) ASSERT_TRUE(up && member->running()) << member->Output();

  const testing::Completed put = run_etcdctl({"put", "/contrast/deploy-test", "written"}, true);
  ASSERT_EQ(put.code, 0) << put.output;
  const testing::Completed get = run_etcdctl({"get", "--print-value-only", "/contrast/deploy-test"}, true);
  EXPECT_EQ(get.code, 0) << get.output;
  EXPECT_THAT(get.output, HasSubstr("written"));
  // --client-cert-auth: without the client certificate nothing is served.
  const testing::Completed anonymous = run_etcdctl({"get", "--command-timeout=1s", "/contrast/deploy-test"}, false);
  EXPECT_NE(anonymous.code, 0) << anonymous.output;
  EXPECT_THAT(anonymous.output, ::testing::Not(HasSubstr("written")));

  // The readiness probe's target answers on every member.
  const YAML::Node probe = member_container["readinessProbe"]["httpGet"];
  ASSERT_EQ(probe["port"].as<int>(), 2381);
  for (int member = 0; member < 3; ++member) {
    httplib::Client http("127.0.0.1", std::stoi(port(member, 2)));
    const httplib::Result health = http.Get(probe["path"].as<std::string>());
    ASSERT_TRUE(health) << "member " << member;
    EXPECT_EQ(health->status, 200);
    EXPECT_THAT(health->body, HasSubstr("\"health\":\"true\""));
  }
}

TEST_F(DeployE2e, ImagesAreReproducibleAndRunUnderRunc) {
  const std::string missing = MissingTool({"buildah", "runc", "jq", "socat", "strip"});
  REQUIRE_OR_SKIP(missing.empty(), missing + " is not installed");
  REQUIRE_OR_SKIP(::geteuid() == 0, std::string("runc needs root"));
  const testing::Completed run =
      testing::RunProcess({(kSourceDir / "scripts/images").string(), "--check", "--build-dir", CONTRAST_BUILD_DIR},
                          dir_ / "images.log", {{"TMPDIR", dir_.string()}}, std::chrono::minutes(5));
  ASSERT_EQ(run.code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("Both builds gave the same digests"));
  EXPECT_THAT(run.output, HasSubstr("coordinator: contrast-coordinator: "));
  EXPECT_THAT(run.output, HasSubstr("initializer: contrast-initializer: "));
  EXPECT_THAT(run.output, HasSubstr("port-forwarder: socat "));
  EXPECT_THAT(run.output, HasSubstr("check passed"));
}

}  // namespace
}  // namespace contrast
