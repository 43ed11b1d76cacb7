// Reading our settings format: every field is checked and every problem
// is reported at once, with its JSON path.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "policy/gen/settings_internal.h"

namespace contrast::policy::gen {
namespace {

using nlohmann::json;

constexpr std::string_view kFormat = "contrast-policy-settings/v1";

// Replaces known $(name) fragments until none is left (fragments may use
// fragments); unknown placeholders are kept for later stages.
std::string ExpandFragments(std::string_view text, const std::map<std::string, std::string>& fragments) {
  std::string out(text);
  for (int pass = 0; pass < 8; ++pass) {
    bool changed = false;
    std::string next;
    next.reserve(out.size());
    size_t i = 0;
    while (i < out.size()) {
      if (out.compare(i, 2, "$(") == 0) {
        size_t end = out.find(')', i + 2);
        if (end != std::string::npos) {
          auto found = fragments.find(out.substr(i + 2, end - i - 2));
          if (found != fragments.end()) {
            next += found->second;
            i = end + 1;
            changed = true;
            continue;
          }
        }
      }
      next += out[i++];
    }
    out = std::move(next);
    if (!changed) break;
  }
  return out;
}

class Reader {
 public:
  std::vector<std::string> errors;

  void Problem(const std::string& path, const std::string& what) { errors.push_back(path + ": " + what); }

  const json* Member(const json& object, const std::string& path, const char* key, bool required = true) {
    if (!object.is_object()) return nullptr;
    auto it = object.find(key);
    if (it == object.end()) {
      if (required) Problem(path + "." + key, "missing");
      return nullptr;
    }
    return &*it;
  }

  std::string String(const json& object, const std::string& path, const char* key, bool required = true) {
    const json* v = Member(object, path, key, required);
    if (!v) return {};
    if (!v->is_string()) {
      Problem(path + "." + key, "must be a string");
      return {};
    }
    return v->get<std::string>();
  }

  bool Bool(const json& object, const std::string& path, const char* key, bool fallback) {
    const json* v = Member(object, path, key, false);
    if (!v) return fallback;
    if (!v->is_boolean()) {
      Problem(path + "." + key, "must be true or false");
      return fallback;
    }
    return v->get<bool>();
  }

  int64_t Id(const json& object, const std::string& path, const char* key) {
    const json* v = Member(object, path, key);
    if (!v) return 0;
    if (!v->is_number_integer() || v->get<int64_t>() < 0 || v->get<int64_t>() > 0xffffffffLL) {
      Problem(path + "." + key, "must be an integer from 0 to 4294967295");
      return 0;
    }
    return v->get<int64_t>();
  }

  std::vector<std::string> Strings(const json& object, const std::string& path, const char* key, bool required = true) {
    std::vector<std::string> out;
    const json* v = Member(object, path, key, required);
    if (!v) return out;
    if (!v->is_array()) {
      Problem(path + "." + key, "must be an array of strings");
      return out;
    }
    for (size_t i = 0; i < v->size(); ++i) {
      if (!(*v)[i].is_string()) {
        Problem(path + "." + key + "[" + std::to_string(i) + "]", "must be a string");
        continue;
      }
      out.push_back((*v)[i].get<std::string>());
    }
    return out;
  }

  std::map<std::string, std::string> StringMap(const json& object, const std::string& path, const char* key) {
    std::map<std::string, std::string> out;
    const json* v = Member(object, path, key);
    if (!v) return out;
    if (!v->is_object()) {
      Problem(path + "." + key, "must be an object of strings");
      return out;
    }
    for (auto& [k, value] : v->items()) {
      if (!value.is_string()) {
        Problem(path + "." + key + "." + k, "must be a string");
        continue;
      }
      out[k] = value.get<std::string>();
    }
    return out;
  }

  const json& Object(const json& object, const std::string& path, const char* key) {
    static const json kEmpty = json::object();
    const json* v = Member(object, path, key);
    if (!v) return kEmpty;
    if (!v->is_object()) {
      Problem(path + "." + key, "must be an object");
      return kEmpty;
    }
    return *v;
  }

  MountSpec Mount(const json& m, const std::string& path, bool with_destination) {
    MountSpec out;
    if (!m.is_object()) {
      Problem(path, "must be an object");
      return out;
    }
    if (with_destination) {
      out.destination = String(m, path, "destination");
      if (!out.destination.empty() && out.destination[0] != '/') Problem(path + ".destination", "must be absolute");
    }
    out.type = String(m, path, "type");
    out.source = String(m, path, "source");
    out.options = Strings(m, path, "options");
    out.from_block_storage = Bool(m, path, "from_block_storage", false);
    return out;
  }

  std::vector<MountSpec> Mounts(const json& object, const std::string& path, const char* key) {
    std::vector<MountSpec> out;
    const json* v = Member(object, path, key);
    if (!v) return out;
    if (!v->is_array()) {
      Problem(path + "." + key, "must be an array of mounts");
      return out;
    }
    for (size_t i = 0; i < v->size(); ++i)
      out.push_back(Mount((*v)[i], path + "." + key + "[" + std::to_string(i) + "]", true));
    return out;
  }

  StorageSpec Storage(const json& s, const std::string& path) {
    StorageSpec out;
    if (!s.is_object()) {
      Problem(path, "must be an object");
      return out;
    }
    out.driver = String(s, path, "driver");
    out.driver_options = Strings(s, path, "driver_options");
    out.source = String(s, path, "source");
    out.fstype = String(s, path, "fstype");
    out.options = Strings(s, path, "options");
    out.shared = Bool(s, path, "shared", false);
    out.mount_point_from_source = Bool(s, path, "mount_point_from_source", false);
    out.mount_point = String(s, path, "mount_point", !out.mount_point_from_source);
    return out;
  }
};

void ExpandMount(MountSpec& m, const Settings& s) { m.source = s.Expand(m.source); }

void ExpandStrings(json& value, const Settings& s) {
  if (value.is_string()) {
    value = s.Expand(value.get<std::string>());
  } else if (value.is_array() || value.is_object()) {
    for (auto& item : value) ExpandStrings(item, s);
  }
}

Result<std::shared_ptr<const Settings>> ParseSettingsDocument(const json& doc) {
  Reader r;
  auto settings = std::make_shared<Settings>();
  Settings& s = *settings;
  if (!doc.is_object()) return Fail(ErrorCode::kParse, "settings: the document must be a JSON object");
  if (r.String(doc, "settings", "format") != kFormat)
    r.Problem("settings.format", "must be \"" + std::string(kFormat) + "\"");
  s.oci_version = r.String(doc, "settings", "oci_version");

  auto raw_fragments = r.StringMap(doc, "settings", "regex_fragments");
  for (auto& [name, value] : raw_fragments) s.fragments[name] = ExpandFragments(value, raw_fragments);
  for (auto& [name, value] : s.fragments) {
    if (value.find("$(" + name + ")") != std::string::npos)
      r.Problem("settings.regex_fragments." + name, "refers to itself");
  }

  s.root_path = s.Expand(r.String(doc, "settings", "root_path"));
  s.block_storage_dir = r.String(doc, "settings", "block_storage_dir");
  s.default_path_env = r.String(doc, "settings", "default_path_env");
  const json& caps = r.Object(doc, "settings", "capabilities");
  s.default_caps = r.Strings(caps, "settings.capabilities", "default");
  s.privileged_caps = r.Strings(caps, "settings.capabilities", "privileged");
  s.masked_paths = r.Strings(doc, "settings", "masked_paths");
  s.readonly_paths = r.Strings(doc, "settings", "readonly_paths");
  s.sysctls = r.StringMap(doc, "settings", "sysctls");
  s.runtime_mounts = r.Mounts(doc, "settings", "runtime_mounts");

  const json& sandbox = r.Object(doc, "settings", "sandbox");
  const std::string sp = "settings.sandbox";
  s.sandbox.image = r.String(sandbox, sp, "image");
  s.sandbox.args = r.Strings(sandbox, sp, "args");
  s.sandbox.cwd = r.String(sandbox, sp, "cwd");
  s.sandbox.uid = r.Id(sandbox, sp, "uid");
  s.sandbox.gid = r.Id(sandbox, sp, "gid");
  s.sandbox.no_new_privileges = r.Bool(sandbox, sp, "no_new_privileges", true);
  s.sandbox.root_readonly = r.Bool(sandbox, sp, "root_readonly", true);
  s.sandbox.namespaces = r.Strings(sandbox, sp, "namespaces");
  s.sandbox.mounts = r.Mounts(sandbox, sp, "mounts");
  s.sandbox.annotations = r.StringMap(sandbox, sp, "annotations");
  if (const json* storages = r.Member(sandbox, sp, "storages")) {
    if (!storages->is_array()) r.Problem(sp + ".storages", "must be an array");
    s.sandbox.storages = storages->is_array() ? *storages : json::array();
  }

  const json& container = r.Object(doc, "settings", "container");
  const std::string cp = "settings.container";
  s.container.namespaces = r.Strings(container, cp, "namespaces");
  s.container.mounts = r.Mounts(container, cp, "mounts");
  s.container.service_account_mount =
      r.Mount(r.Object(container, cp, "service_account_mount"), cp + ".service_account_mount", true);
  s.container.annotations = r.StringMap(container, cp, "annotations");

  const json& volumes = r.Object(doc, "settings", "volumes");
  const std::string vp = "settings.volumes";
  s.emptydir_type = r.String(volumes, vp, "emptydir_type");
  const json& emptydir = r.Object(volumes, vp, "emptydir");
  for (auto& [type, shape] : emptydir.items()) {
    std::string path = vp + ".emptydir." + type;
    VolumeShape out;
    out.mount = r.Mount(r.Object(shape, path, "mount"), path + ".mount", false);
    if (const json* storage = r.Member(shape, path, "storage", false))
      out.storage = r.Storage(*storage, path + ".storage");
    s.emptydir[type] = std::move(out);
  }
  if (!s.emptydir.count(s.emptydir_type))
    r.Problem(vp + ".emptydir_type", "\"" + s.emptydir_type + "\" is not a key of volumes.emptydir");
  if (!s.emptydir.count("memory")) r.Problem(vp + ".emptydir.memory", "missing");
  s.shared_file = r.Mount(r.Object(volumes, vp, "shared_file"), vp + ".shared_file", false);
  s.image_volume = r.Mount(r.Object(volumes, vp, "image_volume"), vp + ".image_volume", false);

  s.cgroup_mount_extras = r.Strings(doc, "settings", "cgroup_mount_extras");
  if (const json* patterns = r.Member(doc, "settings", "annotation_patterns")) {
    s.annotation_patterns = json::array();
    if (!patterns->is_array()) r.Problem("settings.annotation_patterns", "must be an array");
    for (size_t i = 0; patterns->is_array() && i < patterns->size(); ++i) {
      std::string path = "settings.annotation_patterns[" + std::to_string(i) + "]";
      json entry = {{"key", r.String((*patterns)[i], path, "key")}, {"value", r.String((*patterns)[i], path, "value")}};
      s.annotation_patterns.push_back(std::move(entry));
    }
  }
  const json& vfio = r.Object(doc, "settings", "vfio");
  s.vfio = {{"device_path", r.String(vfio, "settings.vfio", "device_path")},
            {"device_type", r.String(vfio, "settings.vfio", "device_type")},
            {"option_regex", r.String(vfio, "settings.vfio", "option_regex")},
            {"cdi_annotation_prefix", r.String(vfio, "settings.vfio", "cdi_annotation_prefix")}};
  s.gpu_resources = r.Strings(vfio, "settings.vfio", "gpu_resources");
  s.require_image_guest_pull = r.Bool(doc, "settings", "require_image_guest_pull", false);

  const json& defaults = r.Object(doc, "settings", "request_defaults");
  const std::string dp = "settings.request_defaults";
  for (const char* key : {"CreateContainerRequest", "ExecProcessRequest", "UpdateInterfaceRequest",
                          "UpdateRoutesRequest", "AddARPNeighborsRequest"}) {
    r.Object(defaults, dp, key);
  }
  r.Strings(r.Object(defaults, dp, "CreateContainerRequest"), dp + ".CreateContainerRequest", "allow_env_regex");
  r.Strings(defaults, dp, "CopyFileRequest");
  for (const char* key : {"CloseStdinRequest", "GetDiagnosticDataRequest", "ReadStreamRequest",
                          "UpdateEphemeralMountsRequest", "WriteStreamRequest"}) {
    const json* v = r.Member(defaults, dp, key);
    if (v && !v->is_boolean()) r.Problem(dp + "." + key, "must be true or false");
  }
  const json& exec = r.Object(defaults, dp, "ExecProcessRequest");
  if (const json* commands = r.Member(exec, dp + ".ExecProcessRequest", "allowed_commands")) {
    bool ok = commands->is_array();
    for (size_t i = 0; ok && i < commands->size(); ++i) {
      ok = (*commands)[i].is_array() && !(*commands)[i].empty();
      for (size_t j = 0; ok && j < (*commands)[i].size(); ++j) ok = (*commands)[i][j].is_string();
    }
    if (!ok) r.Problem(dp + ".ExecProcessRequest.allowed_commands", "must be an array of non-empty string arrays");
  }
  r.Strings(exec, dp + ".ExecProcessRequest", "regex");
  s.request_defaults = defaults;

  if (!r.errors.empty()) {
    std::string message = "invalid policy settings:";
    for (auto& e : r.errors) message += "\n  " + e;
    return Fail(ErrorCode::kInvalidArgument, message);
  }

  // Fragments are substituted once, here, so that the generator and the
  // rules only ever see complete expressions.
  for (auto* list : {&s.runtime_mounts, &s.sandbox.mounts, &s.container.mounts})
    for (auto& m : *list) ExpandMount(m, s);
  ExpandMount(s.container.service_account_mount, s);
  ExpandMount(s.shared_file, s);
  ExpandMount(s.image_volume, s);
  for (auto& [type, shape] : s.emptydir) {
    ExpandMount(shape.mount, s);
    if (shape.storage) {
      shape.storage->source = s.Expand(shape.storage->source);
      shape.storage->mount_point = s.Expand(shape.storage->mount_point);
    }
  }
  for (auto* annotations : {&s.sandbox.annotations, &s.container.annotations})
    for (auto& [key, value] : *annotations) value = s.Expand(value);
  ExpandStrings(s.annotation_patterns, s);
  ExpandStrings(s.request_defaults["CreateContainerRequest"], s);
  ExpandStrings(s.request_defaults["CopyFileRequest"], s);
  ExpandStrings(s.request_defaults["ExecProcessRequest"]["regex"], s);
  return std::shared_ptr<const Settings>(std::move(settings));
}

}  // namespace

std::string Settings::Expand(std::string_view text) const { return ExpandFragments(text, fragments); }

Result<std::shared_ptr<const Settings>> ParseSettings(std::string_view text) {
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::exception& e) {
    return Fail(ErrorCode::kParse, std::string("settings: not valid JSON: ") + e.what());
  }
  return ParseSettingsDocument(doc);
}

const Settings& DefaultSettings() {
  static const std::shared_ptr<const Settings> settings = [] {
    auto parsed = ParseSettings(DefaultSettingsJson());
    if (!parsed) {
      // The embedded file is part of the build; a test keeps it valid.
      std::fprintf(stderr, "built-in policy settings are invalid: %s\n", parsed.error().message.c_str());
      std::abort();
    }
    return *parsed;
  }();
  return *settings;
}

}  // namespace contrast::policy::gen
