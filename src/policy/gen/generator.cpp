// From a pod template, its images and its ConfigMaps/Secrets to the policy
// data: for the sandbox (pause) container and every init and regular
// container, what the Kata runtime will ask the agent to create, in the
// form rules.rego compares requests with.
#include <algorithm>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "policy/gen/generator.h"
#include "policy/gen/settings_internal.h"
#include "policy/gen/values.h"

namespace contrast::policy::gen {
namespace {

using nlohmann::json;

// Characters Kubernetes uses for generated name suffixes.
constexpr std::string_view kSuffixChars = "[bcdfghjklmnpqrstvwxz2456789]";
constexpr std::string_view kDnsLabel = "[a-z0-9](?:[-a-z0-9]*[a-z0-9])?";

// Annotations that carry the policy itself; they are not passed on.
bool IsPolicyAnnotation(std::string_view key) {
  return key == "io.katacontainers.config.hypervisor.cc_init_data" || key == "io.katacontainers.config.agent.policy";
}

// A generator error: the message names the file and line of the node.
struct GenError {
  std::string message;
};

class PodGenerator {
 public:
  PodGenerator(const kube::PodTemplate& pod, const ImageLookup& images, const kube::ConfigStore& configs,
               const Settings& settings, const GeneratorOptions& options)
      : pod_(pod), images_(images), configs_(configs), s_(settings), options_(options) {}

  json Generate();

 private:
  // True when `name` is one of a StatefulSet's spec.volumeClaimTemplates.
  bool IsClaimTemplate(const std::string& name) const;
  [[noreturn]] void Error(const YAML::Node& node, const std::string& what) const {
    throw GenError{pod_.Where(node) + ": " + what};
  }
  [[noreturn]] void ErrorAt(const std::string& where, const std::string& what) const {
    throw GenError{where + ": " + what};
  }

  // Map member, or an undefined node when absent or when `map` is no map.
  // (yaml-cpp returns an invalid "zombie" node for a missing key, which
  // throws when assigned; an undefined node is safe to pass around.)
  static YAML::Node Get(const YAML::Node& map, const char* key) {
    if (!map || !map.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    YAML::Node member = map[key];
    if (!member) return YAML::Node(YAML::NodeType::Undefined);
    return member;
  }
  std::string Str(const YAML::Node& node, const char* what) const {
    if (!node.IsScalar()) Error(node, std::string(what) + " must be a string");
    return node.Scalar();
  }
  std::string OptStr(const YAML::Node& map, const char* key) const {
    YAML::Node n = Get(map, key);
    return (n && !n.IsNull()) ? Str(n, key) : std::string();
  }
  bool OptBool(const YAML::Node& map, const char* key, bool fallback) const {
    YAML::Node n = Get(map, key);
    if (!n || n.IsNull()) return fallback;
    if (!n.IsScalar() || (n.Scalar() != "true" && n.Scalar() != "false"))
      Error(n, std::string(key) + " must be true or false");
    return n.Scalar() == "true";
  }
  std::optional<int64_t> OptId(const YAML::Node& map, const char* key) const {
    YAML::Node n = Get(map, key);
    if (!n || n.IsNull()) return std::nullopt;
    auto id = n.IsScalar() ? ParseId(n.Scalar()) : std::nullopt;
    if (!id) Error(n, std::string(key) + " must be an integer from 0 to 4294967295");
    return id;
  }
  std::vector<std::string> StrList(const YAML::Node& node, const char* what) const {
    std::vector<std::string> out;
    if (!node || node.IsNull()) return out;
    if (!node.IsSequence()) Error(node, std::string(what) + " must be a list of strings");
    for (const auto& item : node) out.push_back(Str(item, what));
    return out;
  }
  std::vector<YAML::Node> List(const YAML::Node& node, const char* what) const {
    std::vector<YAML::Node> out;
    if (!node || node.IsNull()) return out;
    if (!node.IsSequence()) Error(node, std::string(what) + " must be a list");
    for (const auto& item : node) out.push_back(item);
    return out;
  }

  std::string SandboxNamePattern() const;
  std::string NamespacePattern() const;
  json Sandbox();
  json Container(const YAML::Node& c);
  json Mount(const MountSpec& spec, const std::string& destination, const std::string& volume, bool read_only) const;
  json Storage(const StorageSpec& spec, const std::string& volume) const;
  json Annotations(const std::map<std::string, std::string>& from_settings) const;
  json Capabilities(const YAML::Node& security, bool privileged) const;
  void AddEnv(const YAML::Node& c, const image::ImageConfig& config, json& out);
  Text FieldRef(const YAML::Node& ref) const;
  Text ConfigValue(const YAML::Node& ref, bool secret, bool& skip) const;
  json User(const YAML::Node& c, const image::ResolvedImage& image) const;
  void AddVolumes(const YAML::Node& c, const image::ImageConfig& config, bool read_only_root, json& mounts,
                  json& storages);

  const kube::PodTemplate& pod_;
  const ImageLookup& images_;
  const kube::ConfigStore& configs_;
  const Settings& s_;
  const GeneratorOptions& options_;
  YAML::Node spec_{YAML::NodeType::Undefined};
  YAML::Node pod_security_{YAML::NodeType::Undefined};
  std::string name_pattern_;
};

std::string PodGenerator::SandboxNamePattern() const {
  std::string name = RegexEscape(pod_.name);
  std::string sfx(kSuffixChars);
  switch (pod_.kind) {
    case kube::WorkloadKind::kPod:
      if (!pod_.name.empty()) return name;
      if (!pod_.generate_name.empty()) return RegexEscape(pod_.generate_name) + sfx + "+";
      ErrorAt(pod_.file, "the Pod has neither metadata.name nor metadata.generateName");
    case kube::WorkloadKind::kDeployment: return name + "-" + sfx + "{1,10}-" + sfx + "{5}";
    case kube::WorkloadKind::kStatefulSet: return name + "-(?:0|[1-9][0-9]*)";
    case kube::WorkloadKind::kCronJob: return name + "-[0-9]+-" + sfx + "{5}";
    case kube::WorkloadKind::kReplicaSet:
    case kube::WorkloadKind::kReplicationController:
    case kube::WorkloadKind::kDaemonSet:
    case kube::WorkloadKind::kJob: return name + "-" + sfx + "{5}";
  }
  return name;
}

std::string PodGenerator::NamespacePattern() const {
  return pod_.ns.empty() ? std::string(kDnsLabel) : RegexEscape(pod_.ns);
}

std::string Basename(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string ReplaceAll(std::string text, std::string_view from, std::string_view to) {
  size_t pos = 0;
  while ((pos = text.find(from, pos)) != std::string::npos) {
    text.replace(pos, from.size(), to);
    pos += to.size();
  }
  return text;
}

json PodGenerator::Mount(const MountSpec& spec, const std::string& destination, const std::string& volume,
                         bool read_only) const {
  std::string source = ReplaceAll(spec.source, "$(volume)", RegexEscape(volume));
  source = ReplaceAll(source, "$(file)", RegexEscape(Basename(destination)));
  json options = json::array();
  for (auto& o : spec.options) options.push_back(o == "$(rw)" ? (read_only ? "ro" : "rw") : o);
  return {{"destination", destination},
          {"type", spec.type},
          {"source", source},
          {"options", options},
          {"from_block_storage", spec.from_block_storage}};
}

json PodGenerator::Storage(const StorageSpec& spec, const std::string& volume) const {
  json fs_group = nullptr;
  if (auto group = OptId(pod_security_, "fsGroup")) fs_group = *group;
  return {{"driver", spec.driver},
          {"driver_options", spec.driver_options},
          {"source", ReplaceAll(spec.source, "$(volume)", RegexEscape(volume))},
          {"fstype", spec.fstype},
          {"options", spec.options},
          {"shared", spec.shared},
          {"fs_group", fs_group},
          {"mount_point", ReplaceAll(spec.mount_point, "$(volume)", RegexEscape(volume))},
          {"mount_point_from_source", spec.mount_point_from_source}};
}

json PodGenerator::Annotations(const std::map<std::string, std::string>& from_settings) const {
  json out = json::object();
  YAML::Node annotations = Get(pod_.metadata, "annotations");
  if (annotations && annotations.IsMap()) {
    for (const auto& item : annotations) {
      std::string key = Str(item.first, "annotation key");
      if (IsPolicyAnnotation(key)) continue;
      out[key] = "^" + RegexEscape(Str(item.second, "annotation value")) + "$";
    }
  }
  for (auto& [key, value] : from_settings) {
    std::string v = ReplaceAll(value, "$(sandbox-name)", "(?:" + name_pattern_ + ")");
    out[key] = ReplaceAll(v, "$(sandbox-namespace)", "(?:" + NamespacePattern() + ")");
  }
  return out;
}

json PodGenerator::Generate() {
  // Node assignment would write into the document; reset() rebinds.
  if (pod_.spec) spec_.reset(pod_.spec);
  if (!spec_ || !spec_.IsMap()) ErrorAt(pod_.file, "the pod template has no spec");
  pod_security_.reset(Get(spec_, "securityContext"));
  name_pattern_ = SandboxNamePattern();

  json containers = json::array();
  containers.push_back(Sandbox());
  for (const char* list : {"initContainers", "containers"}) {
    for (const auto& c : List(Get(spec_, list), list)) containers.push_back(Container(c));
  }
  if (containers.size() == 1) ErrorAt(pod_.file, "the pod has no containers");
  std::set<std::string> names;
  for (size_t i = 1; i < containers.size(); ++i) {
    if (!names.insert(containers[i]["name"].get<std::string>()).second)
      ErrorAt(pod_.file, "two containers are named \"" + containers[i]["name"].get<std::string>() + "\"");
  }

  json defaults = s_.request_defaults;
  json data = {
      {"oci_version", s_.oci_version},
      {"containers", std::move(containers)},
      {"sandbox",
       {{"name", "^" + name_pattern_ + "$"},
        {"namespace", pod_.ns},
        {"pidns", OptBool(spec_, "shareProcessNamespace", false)},
        {"storages", s_.sandbox.storages}}},
      {"annotation_patterns", s_.annotation_patterns},
      {"cgroup_mount_extras", s_.cgroup_mount_extras},
      {"block_storage_dir", s_.block_storage_dir},
      {"capability_sets", {{"default", s_.default_caps}, {"privileged", s_.privileged_caps}}},
      {"vfio", s_.vfio},
      {"min_image_guest_pulls", s_.require_image_guest_pull ? 1 : 0},
      {"request_defaults", std::move(defaults)},
  };
  return data;
}

json PodGenerator::Sandbox() {
  bool host_network = OptBool(spec_, "hostNetwork", false);
  json namespaces = json::array();
  for (auto& ns : s_.sandbox.namespaces)
    if (!(host_network && ns == "uts")) namespaces.push_back(ns);

  int64_t uid = s_.sandbox.uid;
  int64_t gid = s_.sandbox.gid;
  if (auto run_as = OptId(pod_security_, "runAsUser")) {
    uid = *run_as;
    gid = 0;  // the pause image has no /etc/passwd to name a group
  }
  if (auto group = OptId(pod_security_, "runAsGroup")) gid = *group;
  std::set<int64_t> gids = {gid};
  for (const auto& g : List(Get(pod_security_, "supplementalGroups"), "supplementalGroups")) {
    auto id = g.IsScalar() ? ParseId(g.Scalar()) : std::nullopt;
    if (!id) Error(g, "supplementalGroups entries must be group ids");
    gids.insert(*id);
  }
  if (auto fs_group = OptId(pod_security_, "fsGroup")) gids.insert(*fs_group);

  json mounts = json::array();
  for (auto& m : s_.runtime_mounts) mounts.push_back(Mount(m, m.destination, "", false));
  for (auto& m : s_.sandbox.mounts) mounts.push_back(Mount(m, m.destination, "", false));
  json annotations = Annotations(s_.sandbox.annotations);
  if (host_network) annotations.erase("nerdctl/network-namespace");

  json sysctls = s_.sysctls;
  for (const auto& sysctl : List(Get(pod_security_, "sysctls"), "sysctls"))
    sysctls[Str(Get(sysctl, "name"), "sysctl name")] = Str(Get(sysctl, "value"), "sysctl value");

  std::vector<std::string> caps = s_.default_caps;
  return {
      {"kind", "sandbox"},
      {"name", ""},
      {"image", {{"name", ""}, {"tag", ""}, {"digest", ""}, {"tag_allowed", false}, {"local", s_.sandbox.image}}},
      {"args", s_.sandbox.args},
      {"cwd", s_.sandbox.cwd},
      {"terminal", false},
      {"no_new_privileges", s_.sandbox.no_new_privileges},
      {"user", {{"uid", uid}, {"gid", gid}, {"additional_gids", gids}}},
      {"capabilities",
       {{"ambient", json::array()},
        {"bounding", caps},
        {"effective", caps},
        {"inheritable", json::array()},
        {"permitted", caps}}},
      {"env", {s_.default_path_env}},
      {"env_patterns", json::array()},
      {"root_path", s_.root_path},
      {"root_readonly", s_.sandbox.root_readonly},
      {"mounts", std::move(mounts)},
      {"storages", json::array()},
      {"annotations", std::move(annotations)},
      {"namespaces", std::move(namespaces)},
      {"masked_paths", s_.masked_paths},
      {"readonly_paths", s_.readonly_paths},
      {"linux_devices", json::array()},
      {"sysctls", std::move(sysctls)},
      {"devices", json::array()},
      {"vfio_devices", 0},
      {"sandbox_pidns", false},
      {"exec_commands", json::array()},
  };
}

json PodGenerator::Capabilities(const YAML::Node& security, bool privileged) const {
  auto normalize = [](std::string cap) {
    std::transform(cap.begin(), cap.end(), cap.begin(), [](unsigned char c) { return std::toupper(c); });
    return (cap == "ALL" || cap.rfind("CAP_", 0) == 0) ? cap : "CAP_" + cap;
  };
  std::vector<std::string> caps = privileged ? s_.privileged_caps : s_.default_caps;
  YAML::Node capabilities = Get(security, "capabilities");
  std::vector<std::string> add, drop;
  for (auto& c : StrList(Get(capabilities, "add"), "capabilities.add")) add.push_back(normalize(c));
  for (auto& c : StrList(Get(capabilities, "drop"), "capabilities.drop")) drop.push_back(normalize(c));
  if (!privileged) {
    if (std::count(add.begin(), add.end(), "ALL")) caps = s_.privileged_caps;
    if (std::count(drop.begin(), drop.end(), "ALL")) caps.clear();
    for (auto& c : add)
      if (c != "ALL" && !std::count(caps.begin(), caps.end(), c)) caps.push_back(c);
    for (auto& c : drop) caps.erase(std::remove(caps.begin(), caps.end(), c), caps.end());
  }
  return {{"ambient", json::array()},
          {"bounding", caps},
          {"effective", caps},
          {"inheritable", json::array()},
          {"permitted", caps}};
}

Text PodGenerator::FieldRef(const YAML::Node& ref) const {
  std::string path = Str(Get(ref, "fieldPath"), "fieldRef.fieldPath");
  auto keyed = [&](std::string_view prefix) -> std::optional<std::string> {
    if (path.rfind(prefix, 0) != 0 || path.size() < prefix.size() + 4) return std::nullopt;
    std::string_view rest = std::string_view(path).substr(prefix.size());
    char quote = rest[0];
    if ((quote != '\'' && quote != '"') || rest.substr(rest.size() - 2) != std::string{quote, ']'}) return std::nullopt;
    return std::string(rest.substr(1, rest.size() - 3));
  };
  if (path == "metadata.name") return PatternText(name_pattern_);
  if (path == "metadata.namespace") return pod_.ns.empty() ? PatternText(std::string(kDnsLabel)) : LiteralText(pod_.ns);
  if (path == "metadata.uid") return PatternText(s_.fragments.count("uuid") ? s_.fragments.at("uuid") : ".+");
  if (path == "spec.nodeName") return PatternText(std::string(kDnsLabel) + "(?:\\." + std::string(kDnsLabel) + ")*");
  if (path == "spec.serviceAccountName") {
    std::string account = OptStr(spec_, "serviceAccountName");
    return LiteralText(account.empty() ? "default" : account);
  }
  std::string ip = s_.fragments.count("ip") ? s_.fragments.at("ip") : "[0-9a-fA-F:.]+";
  if (path == "status.podIP" || path == "status.hostIP") return PatternText(ip);
  if (path == "status.podIPs" || path == "status.hostIPs") return PatternText(ip + "(?:," + ip + ")*");
  if (auto label = keyed("metadata.labels[")) {
    YAML::Node value = Get(Get(pod_.metadata, "labels"), label->c_str());
    if (value && value.IsScalar()) return LiteralText(value.Scalar());
    // Controllers add this label to the pods they create.
    if (*label == "pod-template-hash") return PatternText(std::string(kSuffixChars) + "{1,10}");
    return LiteralText("");
  }
  if (auto annotation = keyed("metadata.annotations[")) {
    YAML::Node value = Get(Get(pod_.metadata, "annotations"), annotation->c_str());
    if (value && value.IsScalar()) return LiteralText(value.Scalar());
    // Admission controllers may add annotations we cannot know.
    return PatternText("[^\\n]*");
  }
  Error(ref, "unsupported fieldRef.fieldPath \"" + path + "\"");
}

Text PodGenerator::ConfigValue(const YAML::Node& ref, bool secret, bool& skip) const {
  std::string name = Str(Get(ref, "name"), "name");
  std::string key = Str(Get(ref, "key"), "key");
  bool optional = OptBool(ref, "optional", false);
  const kube::ConfigData* data =
      secret ? configs_.FindSecret(pod_.Namespace(), name) : configs_.FindConfigMap(pod_.Namespace(), name);
  const char* kind = secret ? "Secret" : "ConfigMap";
  if (!data) {
    if (optional) {
      skip = true;
      return {};
    }
    Error(ref, std::string(kind) + " \"" + name + "\" in namespace \"" + pod_.Namespace() +
                   "\" is not among the inputs (give it, or mark the reference optional: true)");
  }
  auto found = data->data.find(key);
  if (found == data->data.end()) {
    if (optional) {
      skip = true;
      return {};
    }
    Error(ref, std::string(kind) + " \"" + name + "\" (" + data->where + ") has no key \"" + key + "\"");
  }
  return LiteralText(found->second);
}

bool ValidEnvName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name)
    if (c == '=' || static_cast<unsigned char>(c) < 0x20) return false;
  return true;
}

void PodGenerator::AddEnv(const YAML::Node& c, const image::ImageConfig& config, json& out) {
  // Later definitions of a name replace earlier ones: image, envFrom, env.
  std::vector<std::string> order;
  std::map<std::string, Text> values;
  auto set = [&](const std::string& name, Text value) {
    if (!values.count(name)) order.push_back(name);
    values[name] = std::move(value);
  };
  bool has_path = false;
  for (auto& entry : config.env) {
    size_t eq = entry.find('=');
    std::string name = entry.substr(0, eq);
    if (name == "PATH") has_path = true;
    set(name, LiteralText(eq == std::string::npos ? "" : entry.substr(eq + 1)));
  }
  if (!has_path) {
    size_t eq = s_.default_path_env.find('=');
    set(s_.default_path_env.substr(0, eq), LiteralText(s_.default_path_env.substr(eq + 1)));
  }

  // Kubernetes expands $(VAR) with the container's own variables only.
  std::map<std::string, Text> kube_vars;
  for (const auto& from : List(Get(c, "envFrom"), "envFrom")) {
    std::string prefix = OptStr(from, "prefix");
    bool secret = static_cast<bool>(Get(from, "secretRef"));
    YAML::Node ref = secret ? Get(from, "secretRef") : Get(from, "configMapRef");
    if (!ref) Error(from, "envFrom needs configMapRef or secretRef");
    std::string name = Str(Get(ref, "name"), "name");
    const kube::ConfigData* data =
        secret ? configs_.FindSecret(pod_.Namespace(), name) : configs_.FindConfigMap(pod_.Namespace(), name);
    if (!data) {
      if (OptBool(ref, "optional", false)) continue;
      Error(ref, std::string(secret ? "Secret" : "ConfigMap") + " \"" + name + "\" in namespace \"" + pod_.Namespace() +
                     "\" is not among the inputs (give it, or mark the reference optional: true)");
    }
    for (auto& [key, value] : data->data) {
      if (!ValidEnvName(prefix + key)) continue;  // Kubernetes skips such keys too
      kube_vars[prefix + key] = LiteralText(value);
      set(prefix + key, LiteralText(value));
    }
  }
  for (const auto& e : List(Get(c, "env"), "env")) {
    std::string name = Str(Get(e, "name"), "env name");
    if (!ValidEnvName(name)) Error(e, "invalid environment variable name \"" + name + "\"");
    Text value;
    if (YAML::Node v = Get(e, "value"); v && !v.IsNull()) {
      value = ExpandVariables(Str(v, "env value"), kube_vars);
    } else if (YAML::Node from = Get(e, "valueFrom"); from && !from.IsNull()) {
      bool skip = false;
      if (YAML::Node ref = Get(from, "fieldRef")) {
        value = FieldRef(ref);
      } else if (YAML::Node cm = Get(from, "configMapKeyRef")) {
        value = ConfigValue(cm, false, skip);
      } else if (YAML::Node secret = Get(from, "secretKeyRef")) {
        value = ConfigValue(secret, true, skip);
      } else if (Get(from, "resourceFieldRef")) {
        value = PatternText("[0-9]+");
      } else {
        Error(from, "unsupported valueFrom (expected fieldRef, configMapKeyRef, secretKeyRef or resourceFieldRef)");
      }
      if (skip) continue;
    } else {
      value = LiteralText("");
    }
    kube_vars[name] = value;
    set(name, std::move(value));
  }
  if (OptBool(c, "tty", false)) set("TERM", LiteralText("xterm"));

  json exact = json::array();
  json patterns = json::array();
  for (auto& name : order) {
    const Text& value = values[name];
    if (IsLiteral(value)) {
      exact.push_back(name + "=" + JoinLiteral(value));
    } else {
      patterns.push_back("^" + RegexEscape(name) + "=" + JoinAsRegex(value) + "$");
    }
  }
  out["env"] = std::move(exact);
  out["env_patterns"] = std::move(patterns);

  // Command line: Kubernetes' override rules, then $(VAR) expansion.
  std::vector<std::string> command = StrList(Get(c, "command"), "command");
  std::vector<std::string> args = StrList(Get(c, "args"), "args");
  bool has_command = static_cast<bool>(Get(c, "command"));
  bool has_args = static_cast<bool>(Get(c, "args"));
  std::vector<Text> argv;
  auto add_expanded = [&](const std::vector<std::string>& items) {
    for (auto& a : items) argv.push_back(ExpandVariables(a, kube_vars));
  };
  auto add_literal = [&](const std::vector<std::string>& items) {
    for (auto& a : items) argv.push_back(LiteralText(a));
  };
  if (has_command) {
    add_expanded(command);
    add_expanded(args);
  } else if (has_args) {
    add_literal(config.entrypoint);
    add_expanded(args);
  } else {
    add_literal(config.entrypoint);
    add_literal(config.cmd);
  }
  if (argv.empty()) Error(c, "the container has no command: neither the YAML nor the image gives one");
  json arg_values = json::array();
  json arg_patterns = json::array();
  bool any_pattern = false;
  for (auto& a : argv) {
    if (IsLiteral(a)) {
      arg_values.push_back(JoinLiteral(a));
      arg_patterns.push_back("");
    } else {
      any_pattern = true;
      arg_values.push_back("");
      arg_patterns.push_back("^" + JoinAsRegex(a) + "$");
    }
  }
  out["args"] = std::move(arg_values);
  if (any_pattern) out["arg_patterns"] = std::move(arg_patterns);
}

json PodGenerator::User(const YAML::Node& c, const image::ResolvedImage& image) const {
  YAML::Node security = Get(c, "securityContext");
  auto run_as_user = OptId(security, "runAsUser");
  if (!run_as_user) run_as_user = OptId(pod_security_, "runAsUser");
  auto run_as_group = OptId(security, "runAsGroup");
  if (!run_as_group) run_as_group = OptId(pod_security_, "runAsGroup");

  auto passwd = ParsePasswd(image.files.passwd.value_or(""));
  auto groups = ParseGroup(image.files.group.value_or(""));
  auto by_uid = [&](int64_t uid) -> const PasswdEntry* {
    for (auto& p : passwd)
      if (p.uid == uid) return &p;
    return nullptr;
  };
  auto where = [&] {
    return pod_.Where(Get(c, "image")) + ": image " + OptStr(c, "image") + " (container \"" + OptStr(c, "name") + "\")";
  };

  int64_t uid = 0;
  std::optional<int64_t> gid;
  std::string username;
  if (run_as_user) {
    uid = *run_as_user;
    if (auto* p = by_uid(uid)) {
      username = p->name;
      gid = p->gid;
    }
  } else {
    std::string user = image.config.user;
    std::string group_part;
    if (auto colon = user.find(':'); colon != std::string::npos) {
      group_part = user.substr(colon + 1);
      user = user.substr(0, colon);
    }
    if (user.empty()) user = "0";
    if (auto id = ParseId(user)) {
      uid = *id;
      if (auto* p = by_uid(uid)) {
        username = p->name;
        gid = p->gid;
      }
    } else {
      const PasswdEntry* found = nullptr;
      for (auto& p : passwd)
        if (p.name == user) found = &p;
      if (!found) ErrorAt(where(), "its user \"" + user + "\" is not in the image's /etc/passwd");
      uid = found->uid;
      gid = found->gid;
      username = found->name;
    }
    if (!group_part.empty()) {
      if (auto id = ParseId(group_part)) {
        gid = *id;
      } else {
        std::optional<int64_t> named;
        for (auto& g : groups)
          if (g.name == group_part) named = g.gid;
        if (!named) ErrorAt(where(), "its group \"" + group_part + "\" is not in the image's /etc/group");
        gid = named;
      }
    }
  }
  if (run_as_group) gid = run_as_group;
  int64_t primary = gid.value_or(0);

  std::set<int64_t> additional = {primary};
  if (!username.empty()) {
    for (auto& g : groups)
      if (std::count(g.members.begin(), g.members.end(), username)) additional.insert(g.gid);
  }
  for (const auto& g : List(Get(pod_security_, "supplementalGroups"), "supplementalGroups")) {
    auto id = g.IsScalar() ? ParseId(g.Scalar()) : std::nullopt;
    if (!id) Error(g, "supplementalGroups entries must be group ids");
    additional.insert(*id);
  }
  if (auto fs_group = OptId(pod_security_, "fsGroup")) additional.insert(*fs_group);
  return {{"uid", uid}, {"gid", primary}, {"additional_gids", additional}};
}

bool PodGenerator::IsClaimTemplate(const std::string& name) const {
  if (pod_.kind != kube::WorkloadKind::kStatefulSet) return false;
  YAML::Node templates = Get(Get(pod_.object, "spec"), "volumeClaimTemplates");
  if (!templates || !templates.IsSequence()) return false;
  for (const auto& claim : templates) {
    if (OptStr(Get(claim, "metadata"), "name") == name) return true;
  }
  return false;
}

void PodGenerator::AddVolumes(const YAML::Node& c, const image::ImageConfig& config, bool read_only_root, json& mounts,
                              json& storages) {
  (void)read_only_root;
  std::set<std::string> destinations;
  for (const auto& vm : List(Get(c, "volumeMounts"), "volumeMounts")) {
    std::string name = Str(Get(vm, "name"), "volumeMounts name");
    std::string path = Str(Get(vm, "mountPath"), "mountPath");
    bool read_only = OptBool(vm, "readOnly", false);
    destinations.insert(path);
    YAML::Node volume(YAML::NodeType::Undefined);
    for (const auto& v : List(Get(spec_, "volumes"), "volumes"))
      if (OptStr(v, "name") == name) volume.reset(v);
    if (!volume && IsClaimTemplate(name)) {
      // A StatefulSet's per-replica claim: a persistent volume like any
      // other, shared from the host.
      mounts.push_back(Mount(s_.shared_file, path, name, read_only));
      continue;
    }
    if (!volume)
      Error(vm, "volume \"" + name + "\" is not in spec.volumes" +
                    (pod_.kind == kube::WorkloadKind::kStatefulSet ? " or spec.volumeClaimTemplates" : ""));

    if (YAML::Node empty_dir = Get(volume, "emptyDir")) {
      std::string medium = OptStr(empty_dir, "medium");
      if (!medium.empty() && medium != "Memory")
        Error(empty_dir, "unsupported emptyDir medium \"" + medium + "\" (expected \"\" or Memory)");
      const VolumeShape& shape = s_.emptydir.at(medium == "Memory" ? std::string("memory") : s_.emptydir_type);
      mounts.push_back(Mount(shape.mount, path, name, read_only));
      if (shape.storage) storages.push_back(Storage(*shape.storage, name));
    } else if (Get(volume, "configMap") || Get(volume, "secret") || Get(volume, "projected") ||
               Get(volume, "downwardAPI") || Get(volume, "hostPath") || Get(volume, "persistentVolumeClaim")) {
      // The runtime shares these from the host as files named after the
      // mount point; their contents are the host's to choose.
      mounts.push_back(Mount(s_.shared_file, path, name, read_only));
    } else {
      std::string type = "none";
      for (const auto& item : volume)
        if (item.first.Scalar() != "name") type = item.first.Scalar();
      Error(volume, "volume \"" + name + "\" has an unsupported type \"" + type +
                        "\" (supported: emptyDir, configMap, secret, projected, downwardAPI, hostPath, "
                        "persistentVolumeClaim)");
    }
  }
  // Volumes the image declares and the pod does not cover.
  for (auto& path : config.volumes) {
    if (destinations.count(path)) continue;
    mounts.push_back(Mount(s_.image_volume, path, "", false));
  }
}

json PodGenerator::Container(const YAML::Node& c) {
  if (!c.IsMap()) Error(c, "a container must be a map");
  std::string name = Str(Get(c, "name"), "container name");
  YAML::Node image_node = Get(c, "image");
  if (!image_node) Error(c, "container \"" + name + "\" has no image");
  std::string reference = Str(image_node, "image");
  auto image_name = ParseImageName(reference);
  if (!image_name) Error(image_node, image_name.error().message);
  const image::ResolvedImage* image = images_ ? images_(reference) : nullptr;
  if (!image) Error(image_node, "image \"" + reference + "\" of container \"" + name + "\" was not resolved");
  if (image_name->digest.empty() && options_.require_image_digests)
    Error(image_node, "image \"" + reference + "\" of container \"" + name + "\" is not pinned by a digest");

  YAML::Node security = Get(c, "securityContext");
  bool privileged = OptBool(security, "privileged", false);
  bool read_only_root = OptBool(security, "readOnlyRootFilesystem", false);
  bool allow_escalation = OptBool(security, "allowPrivilegeEscalation", true);

  json out = {{"kind", "container"}, {"name", name}};
  out["image"] = {{"name", image_name->name},
                  {"tag", image_name->tag},
                  {"digest", image_name->digest.empty() ? image->digest : image_name->digest},
                  {"tag_allowed", image_name->digest.empty()},
                  {"local", ""}};
  AddEnv(c, image->config, out);
  std::string cwd = OptStr(c, "workingDir");
  if (cwd.empty()) cwd = image->config.working_dir;
  out["cwd"] = cwd.empty() ? "/" : cwd;
  out["terminal"] = OptBool(c, "tty", false);
  out["no_new_privileges"] = !allow_escalation && !privileged;
  out["user"] = User(c, *image);
  out["capabilities"] = Capabilities(security, privileged);
  out["root_path"] = s_.root_path;
  out["root_readonly"] = read_only_root;

  json mounts = json::array();
  json storages = json::array();
  for (auto* list : {&s_.runtime_mounts, &s_.container.mounts}) {
    for (auto& m : *list) {
      json mount = Mount(m, m.destination, "", false);
      if (privileged && (m.type == "sysfs" || m.type == "cgroup")) {
        for (auto& o : mount["options"])
          if (o == "ro") o = "rw";
      }
      mounts.push_back(std::move(mount));
    }
  }
  if (OptBool(spec_, "automountServiceAccountToken", true)) {
    auto& m = s_.container.service_account_mount;
    mounts.push_back(Mount(m, m.destination, "", false));
  }
  AddVolumes(c, image->config, read_only_root, mounts, storages);
  out["mounts"] = std::move(mounts);
  out["storages"] = std::move(storages);
  out["annotations"] = Annotations(s_.container.annotations);
  out["namespaces"] = s_.container.namespaces;
  out["masked_paths"] = privileged ? std::vector<std::string>{} : s_.masked_paths;
  out["readonly_paths"] = privileged ? std::vector<std::string>{} : s_.readonly_paths;

  json linux_devices = json::array();
  json devices = json::array();
  for (const auto& d : List(Get(c, "volumeDevices"), "volumeDevices")) {
    std::string path = Str(Get(d, "devicePath"), "devicePath");
    linux_devices.push_back(path);
    devices.push_back({{"container_path", path}});
  }
  out["linux_devices"] = std::move(linux_devices);
  out["devices"] = std::move(devices);
  json sysctls = s_.sysctls;
  for (const auto& sysctl : List(Get(pod_security_, "sysctls"), "sysctls"))
    sysctls[Str(Get(sysctl, "name"), "sysctl name")] = Str(Get(sysctl, "value"), "sysctl value");
  out["sysctls"] = std::move(sysctls);

  int64_t gpus = 0;
  YAML::Node limits = Get(Get(c, "resources"), "limits");
  for (auto& resource : s_.gpu_resources) {
    YAML::Node n = Get(limits, resource.c_str());
    if (!n) continue;
    auto count = n.IsScalar() ? ParseId(n.Scalar()) : std::nullopt;
    if (!count || *count > 64) Error(n, resource + " must be a whole number of devices (at most 64)");
    gpus += *count;
  }
  out["vfio_devices"] = gpus;
  out["sandbox_pidns"] = OptBool(spec_, "shareProcessNamespace", false);

  json exec_commands = json::array();
  for (const char* probe : {"livenessProbe", "readinessProbe", "startupProbe"}) {
    YAML::Node exec = Get(Get(c, probe), "exec");
    if (!exec) continue;
    auto command = StrList(Get(exec, "command"), "exec.command");
    if (command.empty()) Error(exec, std::string(probe) + " exec.command is empty");
    exec_commands.push_back(command);
  }
  out["exec_commands"] = std::move(exec_commands);
  return out;
}

}  // namespace

Result<PodPolicy> GeneratePodPolicy(const kube::PodTemplate& pod, const ImageLookup& images,
                                    const kube::ConfigStore& configs, const GeneratorOptions& options) {
  const Settings& settings = options.settings ? *options.settings : DefaultSettings();
  std::string_view rules = options.rules.empty() ? DefaultRules() : options.rules;
  json data;
  try {
    data = PodGenerator(pod, images, configs, settings, options).Generate();
  } catch (const GenError& e) {
    return Fail(ErrorCode::kInvalidArgument, e.message);
  } catch (const YAML::Exception& e) {
    return Fail(ErrorCode::kParse, pod.file + ": " + e.what());
  } catch (const json::exception& e) {
    return Fail(ErrorCode::kInvalidArgument, pod.file + ": " + e.what());
  }
  std::string body;
  try {
    body = data.dump(2);
  } catch (const json::exception& e) {
    // Invalid UTF-8 in the YAML.
    return Fail(ErrorCode::kParse, pod.file + ": " + e.what());
  }
  PodPolicy policy;
  policy.text.reserve(rules.size() + body.size() + 32);
  policy.text.append(rules);
  if (!policy.text.empty() && policy.text.back() != '\n') policy.text += '\n';
  policy.text += "\npolicy_data := ";
  policy.text += body;
  policy.text += '\n';
  return policy;
}

}  // namespace contrast::policy::gen
