// The parsed form of our generator settings (settings.json; format in
// docs/policies.md). Private to the module.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "policy/gen/generator.h"

namespace contrast::policy::gen {

// A mount the runtime gives a container. `source` is a regular expression
// (fragments substituted); it may still hold the placeholders the rules
// fill in ($(bundle-id), $(sandbox-id)) and those the generator fills in
// ($(volume), $(file)); "$(rw)" in options becomes "rw" or "ro".
struct MountSpec {
  std::string destination;
  std::string type;
  std::string source;
  std::vector<std::string> options;
  bool from_block_storage = false;
};

// A storage the agent mounts for a volume. `source` and `mount_point` are
// regular expressions; with mount_point_from_source the mount point is the
// block storage directory plus base64url(source).
struct StorageSpec {
  std::string driver;
  std::vector<std::string> driver_options;
  std::string source;
  std::string fstype;
  std::vector<std::string> options;
  bool shared = false;
  std::string mount_point;
  bool mount_point_from_source = false;
};

struct VolumeShape {
  MountSpec mount;
  std::optional<StorageSpec> storage;
};

struct Settings {
  std::string oci_version;
  std::map<std::string, std::string> fragments;  // fully substituted
  std::string root_path;
  std::string block_storage_dir;
  std::string default_path_env;
  std::vector<std::string> default_caps;
  std::vector<std::string> privileged_caps;
  std::vector<std::string> masked_paths;
  std::vector<std::string> readonly_paths;
  std::map<std::string, std::string> sysctls;
  std::vector<MountSpec> runtime_mounts;

  struct Sandbox {
    std::string image;
    std::vector<std::string> args;
    std::string cwd;
    int64_t uid = 0;
    int64_t gid = 0;
    bool no_new_privileges = true;
    bool root_readonly = true;
    std::vector<std::string> namespaces;
    std::vector<MountSpec> mounts;
    std::map<std::string, std::string> annotations;
    nlohmann::json storages;  // exact CreateSandboxRequest storages
  } sandbox;

  struct Container {
    std::vector<std::string> namespaces;
    std::vector<MountSpec> mounts;
    MountSpec service_account_mount;
    std::map<std::string, std::string> annotations;
  } container;

  std::string emptydir_type;
  std::map<std::string, VolumeShape> emptydir;  // by type, plus "memory"
  MountSpec shared_file;
  MountSpec image_volume;

  std::vector<std::string> cgroup_mount_extras;
  nlohmann::json annotation_patterns;  // [{key, value}]
  nlohmann::json vfio;                 // device_path, device_type, option_regex, cdi_annotation_prefix
  std::vector<std::string> gpu_resources;
  bool require_image_guest_pull = false;
  nlohmann::json request_defaults;  // regex fragments substituted

  // Replaces every $(fragment) of `text` with its regex (placeholders that
  // are not fragments stay).
  std::string Expand(std::string_view text) const;
};

std::string_view DefaultSettingsJson();

// gzip of `data` in one go, with the header AttachAsInitdata writes (tests
// compare it with the shared-prefix compression of attach.cpp).
std::string GzipForTest(std::string_view data);

}  // namespace contrast::policy::gen
