// The shapes of the Kata agent's ttRPC request messages, as the agent's serde
// serializer writes them to JSON for the policy, and the default filling that
// turns a request with omitted fields into that form.
//
// Field names are the protobuf field names (Kata's agent.proto, oci.proto and
// types.proto), except that the Rust code generator renames `type` to
// `type_`. Enums are written as their numbers, bytes as arrays of numbers.
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "policy/rego/agent.h"

namespace contrast::policy::rego {
namespace {

enum class FieldType {
  kString,
  kNumber,
  kBool,
  kRepeated,  // of scalars, or of `message` when one is named
  kMap,       // string keys, scalar values
  kMessage,   // `message`; null when unset
};

struct Field {
  std::string_view name;
  FieldType type;
  std::string_view message = {};
};

using Schema = std::map<std::string_view, std::vector<Field>, std::less<>>;

constexpr FieldType S = FieldType::kString;
constexpr FieldType N = FieldType::kNumber;
constexpr FieldType B = FieldType::kBool;
constexpr FieldType R = FieldType::kRepeated;
constexpr FieldType M = FieldType::kMap;
constexpr FieldType O = FieldType::kMessage;

// OCI runtime spec messages (oci.proto).
void AddOciMessages(Schema& s) {
  s["Spec"] = {{"Version", S},           {"Process", O, "Process"}, {"Root", O, "Root"},
               {"Hostname", S},          {"Mounts", R, "Mount"},    {"Hooks", O, "Hooks"},
               {"Annotations", M},       {"Linux", O, "Linux"},     {"Solaris", O, "Solaris"},
               {"Windows", O, "Windows"}};
  s["Process"] = {{"Terminal", B},
                  {"ConsoleSize", O, "Box"},
                  {"User", O, "User"},
                  {"Args", R},
                  {"Env", R},
                  {"Cwd", S},
                  {"Capabilities", O, "LinuxCapabilities"},
                  {"Rlimits", R, "POSIXRlimit"},
                  {"NoNewPrivileges", B},
                  {"ApparmorProfile", S},
                  {"OOMScoreAdj", N},
                  {"SelinuxLabel", S}};
  s["Box"] = {{"Height", N}, {"Width", N}};
  s["User"] = {{"UID", N}, {"GID", N}, {"AdditionalGids", R}, {"Username", S}};
  s["LinuxCapabilities"] = {{"Bounding", R}, {"Effective", R}, {"Inheritable", R}, {"Permitted", R}, {"Ambient", R}};
  s["POSIXRlimit"] = {{"Type", S}, {"Hard", N}, {"Soft", N}};
  s["Mount"] = {{"destination", S}, {"source", S}, {"type_", S}, {"options", R}};
  s["Root"] = {{"Path", S}, {"Readonly", B}};
  s["Hooks"] = {{"Prestart", R, "Hook"}, {"Poststart", R, "Hook"}, {"Poststop", R, "Hook"}};
  s["Hook"] = {{"Path", S}, {"Args", R}, {"Env", R}, {"Timeout", N}};
  s["Linux"] = {{"UIDMappings", R, "LinuxIDMapping"},
                {"GIDMappings", R, "LinuxIDMapping"},
                {"Sysctl", M},
                {"Resources", O, "LinuxResources"},
                {"CgroupsPath", S},
                {"Namespaces", R, "LinuxNamespace"},
                {"Devices", R, "LinuxDevice"},
                {"Seccomp", O, "LinuxSeccomp"},
                {"RootfsPropagation", S},
                {"MaskedPaths", R},
                {"ReadonlyPaths", R},
                {"MountLabel", S},
                {"IntelRdt", O, "LinuxIntelRdt"}};
  s["Windows"] = {{"dummy", S}};
  s["Solaris"] = {{"dummy", S}};
  s["LinuxIDMapping"] = {{"HostID", N}, {"ContainerID", N}, {"Size", N}};
  s["LinuxNamespace"] = {{"Type", S}, {"Path", S}};
  s["LinuxDevice"] = {{"Path", S}, {"Type", S}, {"Major", N}, {"Minor", N}, {"FileMode", N}, {"UID", N}, {"GID", N}};
  s["LinuxResources"] = {{"Devices", R, "LinuxDeviceCgroup"},
                         {"Memory", O, "LinuxMemory"},
                         {"CPU", O, "LinuxCPU"},
                         {"Pids", O, "LinuxPids"},
                         {"BlockIO", O, "LinuxBlockIO"},
                         {"HugepageLimits", R, "LinuxHugepageLimit"},
                         {"Network", O, "LinuxNetwork"}};
  s["LinuxMemory"] = {{"Limit", N},      {"Reservation", N},     {"Swap", N}, {"Kernel", N}, {"KernelTCP", N},
                      {"Swappiness", N}, {"DisableOOMKiller", B}};
  s["LinuxCPU"] = {{"Shares", N},         {"Quota", N}, {"Period", N}, {"RealtimeRuntime", N},
                   {"RealtimePeriod", N}, {"Cpus", S},  {"Mems", S}};
  s["LinuxWeightDevice"] = {{"Major", N}, {"Minor", N}, {"Weight", N}, {"LeafWeight", N}};
  s["LinuxThrottleDevice"] = {{"Major", N}, {"Minor", N}, {"Rate", N}};
  s["LinuxBlockIO"] = {{"Weight", N},
                       {"LeafWeight", N},
                       {"WeightDevice", R, "LinuxWeightDevice"},
                       {"ThrottleReadBpsDevice", R, "LinuxThrottleDevice"},
                       {"ThrottleWriteBpsDevice", R, "LinuxThrottleDevice"},
                       {"ThrottleReadIOPSDevice", R, "LinuxThrottleDevice"},
                       {"ThrottleWriteIOPSDevice", R, "LinuxThrottleDevice"}};
  s["LinuxPids"] = {{"Limit", N}};
  s["LinuxDeviceCgroup"] = {{"Allow", B}, {"Type", S}, {"Major", N}, {"Minor", N}, {"Access", S}};
  s["LinuxNetwork"] = {{"ClassID", N}, {"Priorities", R, "LinuxInterfacePriority"}};
  s["LinuxHugepageLimit"] = {{"Pagesize", S}, {"Limit", N}};
  s["LinuxInterfacePriority"] = {{"Name", S}, {"Priority", N}};
  s["LinuxSeccomp"] = {{"DefaultAction", S}, {"Architectures", R}, {"Flags", R}, {"Syscalls", R, "LinuxSyscall"}};
  s["LinuxSeccompArg"] = {{"Index", N}, {"Value", N}, {"ValueTwo", N}, {"Op", S}};
  // ErrnoRet is a oneof: serde writes null when it is not set.
  s["LinuxSyscall"] = {{"Names", R}, {"Action", S}, {"ErrnoRet", O, "Oneof"}, {"Args", R, "LinuxSeccompArg"}};
  s["Oneof"] = {};
  s["LinuxIntelRdt"] = {{"L3CacheSchema", S}};
}

// Network messages (types.proto).
void AddTypesMessages(Schema& s) {
  s["IPAddress"] = {{"family", N}, {"address", S}, {"mask", S}};
  s["Interface"] = {{"device", S}, {"name", S},     {"IPAddresses", R, "IPAddress"},
                    {"mtu", N},    {"hwAddr", S},   {"pciPath", S},
                    {"type_", S},  {"raw_flags", N}};
  s["Route"] = {{"dest", S}, {"gateway", S}, {"device", S}, {"source", S}, {"scope", N}, {"family", N}};
  s["ARPNeighbor"] = {{"toIPAddress", O, "IPAddress"}, {"device", S}, {"lladdr", S}, {"state", N}, {"flags", N}};
}

// The agent's own messages (agent.proto).
void AddAgentMessages(Schema& s) {
  const std::vector<Field> container_only = {{"container_id", S}};
  const std::vector<Field> process_ref = {{"container_id", S}, {"exec_id", S}};
  const std::vector<Field> empty;

  s["CreateContainerRequest"] = {{"container_id", S},
                                 {"exec_id", S},
                                 {"string_user", O, "StringUser"},
                                 {"devices", R, "Device"},
                                 {"storages", R, "Storage"},
                                 {"OCI", O, "Spec"},
                                 {"sandbox_pidns", B},
                                 {"shared_mounts", R, "SharedMount"},
                                 {"stdin_port", N},
                                 {"stdout_port", N},
                                 {"stderr_port", N}};
  s["StartContainerRequest"] = container_only;
  s["RemoveContainerRequest"] = {{"container_id", S}, {"timeout", N}};
  s["ExecProcessRequest"] = {{"container_id", S},       {"exec_id", S},    {"string_user", O, "StringUser"},
                             {"process", O, "Process"}, {"stdin_port", N}, {"stdout_port", N},
                             {"stderr_port", N}};
  s["SignalProcessRequest"] = {{"container_id", S}, {"exec_id", S}, {"signal", N}};
  s["WaitProcessRequest"] = process_ref;
  s["UpdateContainerRequest"] = {{"container_id", S}, {"resources", O, "LinuxResources"}};
  s["StatsContainerRequest"] = container_only;
  s["PauseContainerRequest"] = container_only;
  s["ResumeContainerRequest"] = container_only;
  s["WriteStreamRequest"] = {{"container_id", S}, {"exec_id", S}, {"data", R}};
  s["ReadStreamRequest"] = {{"container_id", S}, {"exec_id", S}, {"len", N}};
  s["CloseStdinRequest"] = process_ref;
  s["TtyWinResizeRequest"] = {{"container_id", S}, {"exec_id", S}, {"row", N}, {"column", N}};
  s["KernelModule"] = {{"name", S}, {"parameters", R}};
  s["CreateSandboxRequest"] = {{"hostname", S},
                               {"dns", R},
                               {"storages", R, "Storage"},
                               {"sandbox_pidns", B},
                               {"sandbox_id", S},
                               {"guest_hook_path", S},
                               {"kernel_modules", R, "KernelModule"}};
  s["DestroySandboxRequest"] = empty;
  s["RemoveStaleVirtiofsShareMountsRequest"] = empty;
  s["Routes"] = {{"Routes", R, "Route"}};
  s["UpdateInterfaceRequest"] = {{"interface", O, "Interface"}};
  s["UpdateRoutesRequest"] = {{"routes", O, "Routes"}};
  s["UpdateEphemeralMountsRequest"] = {{"storages", R, "Storage"}};
  s["ListInterfacesRequest"] = empty;
  s["ListRoutesRequest"] = empty;
  s["ARPNeighbors"] = {{"ARPNeighbors", R, "ARPNeighbor"}};
  s["AddARPNeighborsRequest"] = {{"neighbors", O, "ARPNeighbors"}};
  s["GetIPTablesRequest"] = {{"is_ipv6", B}};
  s["SetIPTablesRequest"] = {{"is_ipv6", B}, {"data", R}};
  s["OnlineCPUMemRequest"] = {{"wait", B}, {"nb_cpus", N}, {"cpu_only", B}};
  s["ReseedRandomDevRequest"] = {{"data", R}};
  s["GuestDetailsRequest"] = {{"mem_block_size", B}, {"mem_hotplug_probe", B}};
  s["MemHotplugByProbeRequest"] = {{"memHotplugProbeAddr", R}};
  s["SetGuestDateTimeRequest"] = {{"Sec", N}, {"Usec", N}};
  s["FSGroup"] = {{"group_id", N}, {"group_change_policy", N}};
  s["SharedMount"] = {{"name", S}, {"src_ctr", S}, {"src_path", S}, {"dst_ctr", S}, {"dst_path", S}};
  s["Storage"] = {{"driver", S},      {"driver_options", R},      {"source", S}, {"fstype", S}, {"options", R},
                  {"mount_point", S}, {"fs_group", O, "FSGroup"}, {"shared", B}};
  s["Device"] = {{"id", S}, {"type_", S}, {"vm_path", S}, {"container_path", S}, {"options", R}};
  s["StringUser"] = {{"uid", S}, {"gid", S}, {"additionalGids", R}};
  // Not the wire message: the agent hands the policy a summary of the copy
  // (file type and symlink target instead of the raw data bytes).
  s["CopyFileRequest"] = {{"path", S},      {"file_type", S}, {"symlink_target", S},
                          {"file_size", N}, {"file_mode", N}, {"dir_mode", N},
                          {"uid", N},       {"gid", N},       {"offset", N}};
  s["GetOOMEventRequest"] = empty;
  s["AddSwapRequest"] = {{"PCIPath", R}};
  s["GetMetricsRequest"] = empty;
  s["VolumeStatsRequest"] = {{"volume_guest_path", S}};
  s["ResizeVolumeRequest"] = {{"volume_guest_path", S}, {"size", N}};
  s["SetPolicyRequest"] = {{"policy", S}};
}

const Schema& Messages() {
  static const Schema* const schema = [] {
    auto* s = new Schema;
    AddOciMessages(*s);
    AddTypesMessages(*s);
    AddAgentMessages(*s);
    return s;
  }();
  return *schema;
}

Value DefaultFor(const Field& field) {
  switch (field.type) {
    case FieldType::kString: return Value::String("");
    case FieldType::kNumber: return Value::Int(0);
    case FieldType::kBool: return Value::Bool(false);
    case FieldType::kRepeated: return Value::FromArray({});
    case FieldType::kMap: return Value::FromObject({});
    case FieldType::kMessage: return Value::Null();
  }
  return Value::Null();
}

bool HasType(const Value& v, FieldType type) {
  switch (type) {
    case FieldType::kString: return v.is_string();
    case FieldType::kNumber: return v.is_number();
    case FieldType::kBool: return v.is_bool();
    case FieldType::kRepeated: return v.is_array();
    case FieldType::kMap: return v.is_object();
    case FieldType::kMessage: return v.is_object() || v.is_null();
  }
  return false;
}

std::string_view TypeName(FieldType type) {
  switch (type) {
    case FieldType::kString: return "string";
    case FieldType::kNumber: return "number";
    case FieldType::kBool: return "boolean";
    case FieldType::kRepeated: return "array";
    case FieldType::kMap: return "object";
    case FieldType::kMessage: return "object or null";
  }
  return "?";
}

Result<Value> FillMessage(std::string_view message, const Value& value, const std::string& where);

Result<Value> FillField(const Field& field, const Value& value, const std::string& where) {
  if (!HasType(value, field.type)) {
    return Fail(ErrorCode::kInvalidArgument, where + ": expected " + std::string(TypeName(field.type)) + ", got " +
                                                 std::string(KindName(value.kind())));
  }
  if (field.message.empty()) return value;
  if (field.type == FieldType::kMessage) {
    if (value.is_null()) return value;
    return FillMessage(field.message, value, where);
  }
  // A repeated message field.
  Value::Array items;
  items.reserve(value.as_array().size());
  for (size_t i = 0; i < value.as_array().size(); ++i) {
    auto item = FillMessage(field.message, value.as_array()[i], where + "[" + std::to_string(i) + "]");
    if (!item) return item;
    items.push_back(std::move(*item));
  }
  return Value::FromArray(std::move(items));
}

Result<Value> FillMessage(std::string_view message, const Value& value, const std::string& where) {
  if (!value.is_object()) {
    return Fail(ErrorCode::kInvalidArgument, where + ": expected an object (" + std::string(message) + "), got " +
                                                 std::string(KindName(value.kind())));
  }
  const auto it = Messages().find(message);
  if (it == Messages().end()) return value;
  Value::Object object = value.as_object();
  for (const Field& field : it->second) {
    const Value key = Value::String(std::string(field.name));
    const auto present = object.find(key);
    if (present == object.end()) {
      object.emplace(key, DefaultFor(field));
      continue;
    }
    auto filled = FillField(field, present->second,
                            where.empty() ? std::string(field.name) : where + "." + std::string(field.name));
    if (!filled) return filled;
    present->second = std::move(*filled);
  }
  return Value::FromObject(std::move(object));
}

}  // namespace

bool HasRequestSchema(std::string_view request_name) {
  return request_name.ends_with("Request") && Messages().contains(request_name);
}

Result<Value> FillRequestDefaults(std::string_view request_name, const Value& request) {
  if (!HasRequestSchema(request_name)) return request;
  auto filled = FillMessage(request_name, request, "");
  if (!filled) return Fail(filled.error().Wrap(std::string(request_name)));
  return filled;
}

}  // namespace contrast::policy::rego
