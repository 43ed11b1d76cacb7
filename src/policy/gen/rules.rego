# Contrast's Kata agent policy rules.
#
# The Kata agent in the pod VM evaluates data.agent_policy.<RequestName> for
# every request the (untrusted) host sends it. These rules allow exactly the
# requests the pod's own YAML, its images and our settings imply; the
# expectations are in `policy_data`, which `contrast generate` appends below.
# Every regular expression in policy_data is complete (anchored, fragments
# substituted); the rules only substitute the two values that are known
# when a request arrives: $(bundle-id) (from the root path) and
# $(sandbox-id) (from the CRI annotation).
#
# Written to parse and decide the same under Rego v1 and under Rego v0 with
# the future keywords imported below (older agents parse v0).
package agent_policy

import future.keywords.every
import future.keywords.if
import future.keywords.in

# ---------------------------------------------------------------------------
# Requests that carry nothing the host could use against the pod.
default DestroySandboxRequest := true

default GetOOMEventRequest := true

default GuestDetailsRequest := true

default OnlineCPUMemRequest := true

default RemoveStaleVirtiofsShareMountsRequest := true

default SignalProcessRequest := true

default StartContainerRequest := true

default StatsContainerRequest := true

default TtyWinResizeRequest := true

default WaitProcessRequest := true

# Requests the pod never needs: denied outright. SetPolicyRequest is here so
# that nobody can replace this policy once the VM runs it.
default AddSwapPathRequest := false

default AddSwapRequest := false

default GetIPTablesRequest := false

default GetMetricsRequest := false

default ListInterfacesRequest := false

default ListRoutesRequest := false

default MemAgentCompactConfig := false

default MemAgentMemcgConfig := false

default MemHotplugByProbeRequest := false

default PauseContainerRequest := false

default ReseedRandomDevRequest := false

default ResizeVolumeRequest := false

default ResumeContainerRequest := false

default SetGuestDateTimeRequest := false

default SetIPTablesRequest := false

default SetPolicyRequest := false

default StartTracingRequest := false

default StopTracingRequest := false

default UpdateContainerRequest := false

default VolumeStatsRequest := false

# Denied unless a rule below allows the request.
default CreateContainerRequest := false

default CreateSandboxRequest := false

default ExecProcessRequest := false

default CopyFileRequest := false

default UpdateRoutesRequest := false

default UpdateInterfaceRequest := false

default AddARPNeighborsRequest := false

default AllowRequestsFailingPolicy := false

# Stream access and other switches: only what the settings turn on
# (default: off, so the host can neither read a container's output nor
# write to its stdin).
default ReadStreamRequest := false

default WriteStreamRequest := false

default CloseStdinRequest := false

default UpdateEphemeralMountsRequest := false

default GetDiagnosticDataRequest := false

ReadStreamRequest if policy_data.request_defaults.ReadStreamRequest == true

WriteStreamRequest if policy_data.request_defaults.WriteStreamRequest == true

CloseStdinRequest if policy_data.request_defaults.CloseStdinRequest == true

UpdateEphemeralMountsRequest if policy_data.request_defaults.UpdateEphemeralMountsRequest == true

GetDiagnosticDataRequest if policy_data.request_defaults.GetDiagnosticDataRequest == true

# ---------------------------------------------------------------------------
# CreateContainerRequest: the container is one of the pod's (the sandbox or
# a named container), and everything the agent will set up for it (process,
# root, mounts, storages, devices, annotations, Linux settings, image) is
# what the policy expects. On success the policy state records which policy
# container the id is, and the pod's name, namespace and network namespace,
# so that later containers must belong to the same pod.
CreateContainerRequest := {"allowed": true, "ops": ops} if {
	request_is_plain
	some index, p in policy_data.containers
	is_policy_container(p)
	bundle := bundle_id(p)
	sandbox_identity_allowed
	network_namespace_allowed
	input.sandbox_pidns == p.sandbox_pidns
	input.OCI.Version == policy_data.oci_version
	input.OCI.Root.Readonly == p.root_readonly
	annotations_allowed(p, bundle)
	process_allowed(p, input.OCI.Process)
	mounts_allowed(p, bundle)
	storages_allowed(p)
	image_allowed(p)
	linux_allowed(p)
	devices_allowed(p)
	ops := array.concat(state_ops, container_ops(input.container_id, index))
}

# The request asks for nothing our rules do not model: no hooks, no shared
# mounts between containers, no id mappings, no seccomp or SELinux/AppArmor
# overrides from the host, no user given by name.
request_is_plain if {
	count(input.shared_mounts) == 0
	is_null(input.string_user)
	is_null(input.OCI.Hooks)
	is_null(input.OCI.Solaris)
	is_null(input.OCI.Windows)
	linux := input.OCI.Linux
	count(linux.GIDMappings) == 0
	count(linux.UIDMappings) == 0
	linux.MountLabel == ""
	linux.RootfsPropagation == ""
	is_null(linux.IntelRdt)
	is_null(linux.Seccomp)
	resources_are_plain(linux.Resources)
	input.OCI.Process.SelinuxLabel == ""
	input.OCI.Process.User.Username == ""
}

resources_are_plain(resources) if is_null(resources)

resources_are_plain(resources) if {
	not is_null(resources)
	count(resources.Devices) == 0
	is_null(resources.BlockIO)
	is_null(resources.Network)
	is_null(resources.Pids)
}

annotation(key) := value if value := input.OCI.Annotations[key]

# The policy container this request is for: the sandbox (pause) container,
# or the container of that name.
is_policy_container(p) if {
	p.kind == "sandbox"
	annotation("io.kubernetes.cri.container-type") == "sandbox"
}

is_policy_container(p) if {
	p.kind == "container"
	annotation("io.kubernetes.cri.container-type") == "container"
	annotation("io.kubernetes.cri.container-name") == p.name
}

# The container's bundle id, taken from its root path; it also names the
# files the runtime shares with the container ($(bundle-id) in sources).
bundle_id(p) := id if {
	matches := regex.find_all_string_submatch_n(p.root_path, input.OCI.Root.Path, 1)
	id := matches[0][1]
}

# The pod's name matches the policy (exactly, or the pattern of the names
# its controller generates) and its namespace is the policy's (any when the
# YAML left it to `kubectl -n`); both stay the same for every container.
sandbox_identity_allowed if {
	name := annotation("io.kubernetes.cri.sandbox-name")
	regex.match(policy_data.sandbox.name, name)
	same_as_state("sandbox_name", name)
	namespace := annotation("io.kubernetes.cri.sandbox-namespace")
	namespace_allowed(namespace)
	same_as_state("namespace", namespace)
}

namespace_allowed(_) if policy_data.sandbox.namespace == ""

namespace_allowed(namespace) if namespace == policy_data.sandbox.namespace

same_as_state(key, _) if not data.pstate[key]

same_as_state(key, value) if data.pstate[key] == value

# All containers of the pod join the same network namespace.
network_namespace_allowed if same_as_state("network_namespace", network_namespace)

network_namespace := path if {
	some ns in input.OCI.Linux.Namespaces
	ns.Type == "network"
	path := ns.Path
} else := ""

state_ops := [
	{"op": "add", "path": "/pstate/sandbox_name", "value": annotation("io.kubernetes.cri.sandbox-name")},
	{"op": "add", "path": "/pstate/namespace", "value": annotation("io.kubernetes.cri.sandbox-namespace")},
	{"op": "add", "path": "/pstate/network_namespace", "value": network_namespace},
]

container_ops(id, index) := [{"op": "add", "path": "/pstate/containers", "value": {id: index}}] if {
	not data.pstate.containers
} else := [{"op": "add", "path": concat("/", ["/pstate/containers", json_pointer_escape(id)]), "value": index}]

json_pointer_escape(s) := replace(replace(s, "~", "~0"), "/", "~1")

# Every annotation is expected: a policy annotation (its value matches), a
# CRI annotation the policy does not care about (resources, uid), or one the
# runtime adds in a known form (GPU CDI annotations).
annotations_allowed(p, bundle) if {
	every key, value in input.OCI.Annotations {
		annotation_allowed(p, bundle, key, value)
	}
}

annotation_allowed(p, bundle, key, value) if {
	pattern := p.annotations[key]
	regex.match(replace(pattern, "$(bundle-id)", bundle), value)
}

annotation_allowed(p, _, key, _) if {
	not p.annotations[key]
	startswith(key, "io.kubernetes.cri.")
}

annotation_allowed(p, _, key, value) if {
	not p.annotations[key]
	some pattern in policy_data.annotation_patterns
	regex.match(pattern.key, key)
	regex.match(pattern.value, value)
}

# ---------------------------------------------------------------------------
# The process: exactly the policy's command line, working directory, user,
# groups, capabilities and privilege flags; every environment variable is
# one the policy expects (a variable the host leaves out is not detected).
process_allowed(p, process) if {
	count(process.Args) == count(p.args)
	every i, arg in process.Args {
		arg_allowed(p, i, arg)
	}
	process.Cwd == p.cwd
	process.Terminal == p.terminal
	process.NoNewPrivileges == p.no_new_privileges
	user_allowed(p, process.User)
	capabilities_allowed(p, process.Capabilities)
	every entry in process.Env {
		env_allowed(p, entry)
	}
}

arg_allowed(p, i, arg) if p.args[i] == arg

arg_allowed(p, i, arg) if {
	pattern := p.arg_patterns[i]
	pattern != ""
	regex.match(pattern, arg)
}

user_allowed(p, user) if {
	user.UID == p.user.uid
	user.GID == p.user.gid
	same_set(user.AdditionalGids, p.user.additional_gids)
}

capabilities_allowed(p, caps) if {
	same_set(expand_capabilities(caps.Ambient), p.capabilities.ambient)
	same_set(expand_capabilities(caps.Bounding), p.capabilities.bounding)
	same_set(expand_capabilities(caps.Effective), p.capabilities.effective)
	same_set(expand_capabilities(caps.Inheritable), p.capabilities.inheritable)
	same_set(expand_capabilities(caps.Permitted), p.capabilities.permitted)
}

# A capability set in a request may name the runtime's default or privileged
# set by its placeholder, "$(default_caps)" or "$(privileged_caps)"
# (genpolicy's recorded requests do). It is compared as the set it stands
# for, so it passes only where the policy expects exactly that set: no wider
# than what the policy already allows, and a runtime that passed the literal
# string on would give the container at most that set, never more.
expand_capabilities(names) := [cap |
	some name in names
	some cap in capability_set(name)
]

capability_set(name) := policy_data.capability_sets["default"] if {
	name == "$(default_caps)"
} else := policy_data.capability_sets.privileged if {
	name == "$(privileged_caps)"
} else := [name]

same_set(a, b) if {
	every x in a {
		x in b
	}
	every x in b {
		x in a
	}
}

env_allowed(p, entry) if entry in p.env

env_allowed(p, entry) if {
	some pattern in p.env_patterns
	regex.match(pattern, entry)
}

# Variables the runtime or Kubernetes adds with values only the cluster
# knows (service links, HOSTNAME, …), from the settings.
env_allowed(_, entry) if {
	some pattern in policy_data.request_defaults.CreateContainerRequest.allow_env_regex
	regex.match(pattern, entry)
}

# ---------------------------------------------------------------------------
# Mounts: each mount is one the policy lists (same destination, type and
# options; the source matches), no destination twice. A mount the host
# leaves out is not detected.
mounts_allowed(p, bundle) if {
	every m in input.OCI.Mounts {
		mount_allowed(p, bundle, m)
	}
	destinations := {m.destination | some m in input.OCI.Mounts}
	count(destinations) == count(input.OCI.Mounts)
}

mount_allowed(p, bundle, m) if {
	some pm in p.mounts
	pm.destination == m.destination
	pm.type == m.type_
	mount_options_allowed(pm, m.options)
	mount_source_allowed(pm, bundle, m.source)
}

mount_options_allowed(pm, options) if {
	pm.type != "cgroup"
	options == pm.options
}

# containerd may add cgroup2 mount options of the host; only listed ones.
mount_options_allowed(pm, options) if {
	pm.type == "cgroup"
	array.slice(options, 0, count(pm.options)) == pm.options
	every extra in array.slice(options, count(pm.options), count(options)) {
		extra in policy_data.cgroup_mount_extras
	}
}

mount_source_allowed(pm, bundle, source) if {
	not pm.from_block_storage
	pattern := replace(replace(pm.source, "$(bundle-id)", bundle), "$(sandbox-id)", sandbox_id)
	regex.match(pattern, source)
}

# A block-device volume is mounted from where its storage is mounted.
mount_source_allowed(pm, _, source) if {
	pm.from_block_storage
	regex.match(pm.source, source)
	some s in input.storages
	s.driver in {"blk", "scsi"}
	s.mount_point == source
}

sandbox_id := id if {
	id := annotation("io.kubernetes.cri.sandbox-id")
	regex.match("^[a-z0-9]{64}$", id)
}

# ---------------------------------------------------------------------------
# Storages: one for each volume storage the policy lists (plus the guest
# pull of the image), each with exactly the expected driver, options,
# file system and mount point.
storages_allowed(p) if {
	volume_storages := [s | some s in input.storages; s.driver != "image_guest_pull"]
	count(volume_storages) == count(p.storages)
	every s in volume_storages {
		storage_allowed(p, s)
	}
	mount_points := {s.mount_point | some s in input.storages}
	count(mount_points) == count(input.storages)
	pulls := [s | some s in input.storages; s.driver == "image_guest_pull"]
	count(pulls) <= 1
	count(pulls) >= policy_data.min_image_guest_pulls
}

storage_allowed(p, s) if {
	some ps in p.storages
	ps.driver == s.driver
	ps.driver_options == s.driver_options
	ps.fstype == s.fstype
	ps.options == s.options
	ps.shared == s.shared
	ps.fs_group == fs_group_id(s.fs_group)
	regex.match(ps.source, s.source)
	storage_mount_point_allowed(ps, s)
}

fs_group_id(group) := null if is_null(group)

fs_group_id(group) := group.group_id if not is_null(group)

# Block devices are mounted at a path named by their address.
storage_mount_point_allowed(ps, s) if {
	ps.mount_point_from_source == true
	s.mount_point == concat("/", [policy_data.block_storage_dir, base64url.encode(s.source)])
}

storage_mount_point_allowed(ps, s) if {
	ps.mount_point_from_source == false
	regex.match(replace(ps.mount_point, "$(sandbox-id)", sandbox_id), s.mount_point)
}

# ---------------------------------------------------------------------------
# The image: when the runtime names the image (guest-pull storage, its
# metadata, the CRI image-name annotation), it is the image the policy was
# generated for. A reference with a digest must carry exactly the policy's
# digest; a bare tag is accepted only when the pod's YAML named the image
# by tag alone (nothing pins such an image).
image_allowed(p) if {
	every s in input.storages {
		guest_pull_allowed(p, s)
	}
	image_annotation_allowed(p)
}

guest_pull_allowed(_, s) if s.driver != "image_guest_pull"

guest_pull_allowed(p, s) if {
	s.driver == "image_guest_pull"
	s.fstype == "overlay"
	s.options == []
	s.shared == false
	is_null(s.fs_group)
	s.mount_point == input.OCI.Root.Path
	image_reference_allowed(p.image, s.source)
	every option in s.driver_options {
		guest_pull_option_allowed(p, option)
	}
}

guest_pull_option_allowed(p, option) if {
	startswith(option, "image_guest_pull=")
	metadata := json.unmarshal(trim_prefix(option, "image_guest_pull=")).metadata
	every key, value in metadata {
		guest_pull_metadata_allowed(p, key, value)
	}
}

guest_pull_metadata_allowed(p, key, value) if {
	key == "io.kubernetes.cri.image-name"
	image_reference_allowed(p.image, value)
}

guest_pull_metadata_allowed(_, key, value) if {
	key != "io.kubernetes.cri.image-name"
	annotation(key) == value
}

image_annotation_allowed(_) if not annotation("io.kubernetes.cri.image-name")

image_annotation_allowed(p) if image_reference_allowed(p.image, annotation("io.kubernetes.cri.image-name"))

# name[:tag]@digest: the policy's name and digest.
image_reference_allowed(image, reference) if {
	image.digest != ""
	parts := split(reference, "@")
	count(parts) == 2
	parts[1] == image.digest
	image_name(parts[0]) == image.name
}

# name:tag, when the YAML named the image by tag.
image_reference_allowed(image, reference) if {
	image.tag_allowed == true
	reference == concat(":", [image.name, image.tag])
}

# The sandbox's image, which the agent provides itself.
image_reference_allowed(image, reference) if {
	image.local != ""
	reference == image.local
}

# The repository of name[:tag]; a ':' before the last '/' is a port.
image_name(reference) := name if {
	parts := split(reference, "/")
	last := parts[count(parts) - 1]
	name := concat("/", array.concat(array.slice(parts, 0, count(parts) - 1), [split(last, ":")[0]]))
}

# ---------------------------------------------------------------------------
# Linux settings: the expected namespaces (all new ones, none joined except
# the pod network), masked and read-only paths at least the policy's,
# device nodes and sysctls only the policy's.
linux_allowed(p) if {
	linux := input.OCI.Linux
	kept := [ns | some ns in linux.Namespaces; not ns.Type in {"network", "cgroup"}]
	[ns.Type | some ns in kept] == p.namespaces
	every ns in kept {
		ns.Path == ""
	}
	every path in p.masked_paths {
		path in linux.MaskedPaths
	}
	every path in p.readonly_paths {
		read_only_or_masked(path, linux)
	}
	every device in linux.Devices {
		device.Path in p.linux_devices
	}
	every key, value in linux.Sysctl {
		p.sysctls[key] == value
	}
}

read_only_or_masked(path, linux) if path in linux.ReadonlyPaths

read_only_or_masked(path, linux) if path in linux.MaskedPaths

# ---------------------------------------------------------------------------
# Devices: volume devices by path; GPUs (VFIO) exactly as many as the
# container requested, hot-plugged ones each announced by its CDI annotation.
devices_allowed(p) if {
	every d in input.devices {
		device_allowed(p, d)
	}
	vfio_allowed(p)
}

device_allowed(p, d) if {
	not startswith(d.container_path, policy_data.vfio.device_path)
	some pd in p.devices
	pd.container_path == d.container_path
}

device_allowed(_, d) if {
	startswith(d.container_path, policy_data.vfio.device_path)
	number := trim_prefix(d.container_path, policy_data.vfio.device_path)
	regex.match("^[0-9]+$", number)
	d.id == concat("", ["vfio", number])
	d.type_ == policy_data.vfio.device_type
	every option in d.options {
		regex.match(policy_data.vfio.option_regex, option)
	}
	annotation(concat("", [policy_data.vfio.cdi_annotation_prefix, number]))
}

vfio_allowed(p) if {
	cdi := [key | some key, _ in input.OCI.Annotations; startswith(key, policy_data.vfio.cdi_annotation_prefix)]
	count(cdi) == p.vfio_devices
	vfio := {d.container_path | some d in input.devices; startswith(d.container_path, policy_data.vfio.device_path)}
	vfio_count_allowed(p, vfio, input.devices)
}

# Cold-plugged: the devices are not in the request.
vfio_count_allowed(_, vfio, _) if count(vfio) == 0

# Hot-plugged: each GPU once.
vfio_count_allowed(p, vfio, devices) if {
	count(vfio) == p.vfio_devices
	count([d | some d in devices; startswith(d.container_path, policy_data.vfio.device_path)]) == p.vfio_devices
}

# ---------------------------------------------------------------------------
# CreateSandboxRequest: no guest hooks or kernel modules from the host, the
# pod's process-namespace sharing, and only the expected sandbox storages.
CreateSandboxRequest if {
	input.guest_hook_path == ""
	count(input.kernel_modules) == 0
	input.sandbox_pidns == policy_data.sandbox.pidns
	every s in input.storages {
		sandbox_storage_allowed(s)
	}
}

sandbox_storage_allowed(s) if {
	some ps in policy_data.sandbox.storages
	ps.driver == s.driver
	ps.driver_options == s.driver_options
	ps.source == s.source
	ps.fstype == s.fstype
	ps.options == s.options
	ps.mount_point == s.mount_point
	ps.fs_group == fs_group_id(s.fs_group)
}

# ---------------------------------------------------------------------------
# ExecProcessRequest: only into a container this policy created, only a
# probe command of that container (or a command the settings allow), and
# only as the container's own user, directory and environment, without
# capabilities or security-label overrides.
ExecProcessRequest if {
	is_null(input.string_user)
	process := input.process
	process.SelinuxLabel == ""
	process.ApparmorProfile == ""
	index := data.pstate.containers[input.container_id]
	p := policy_data.containers[index]
	exec_command_allowed(p, process)
	process.Cwd == p.cwd
	process.NoNewPrivileges == p.no_new_privileges
	user_allowed(p, process.User)
	no_capabilities(process.Capabilities)
	every entry in process.Env {
		env_allowed(p, entry)
	}
}

exec_command_allowed(p, process) if {
	process.Terminal == false
	some command in p.exec_commands
	command == process.Args
}

exec_command_allowed(_, process) if {
	some command in policy_data.request_defaults.ExecProcessRequest.allowed_commands
	command == process.Args
}

exec_command_allowed(_, process) if {
	some pattern in policy_data.request_defaults.ExecProcessRequest.regex
	regex.match(pattern, concat(" ", process.Args))
}

no_capabilities(caps) if is_null(caps)

no_capabilities(caps) if {
	not is_null(caps)
	count(caps.Ambient) == 0
	count(caps.Bounding) == 0
	count(caps.Effective) == 0
	count(caps.Inheritable) == 0
	count(caps.Permitted) == 0
}

# ---------------------------------------------------------------------------
# RemoveContainerRequest: always allowed; the container leaves the state,
# so nothing can be executed in it afterwards.
default RemoveContainerRequest := true

RemoveContainerRequest := {"allowed": true, "ops": ops} if {
	data.pstate.containers[input.container_id]
	ops := [{"op": "remove", "path": concat("/", ["/pstate/containers", json_pointer_escape(input.container_id)])}]
}

# ---------------------------------------------------------------------------
# CopyFileRequest: only into the directories the runtime shares with
# containers (config maps, secrets, /etc/hosts, …): no '..' anywhere,
# regular files and directories, and symlinks below the top level that
# point down, never out.
CopyFileRequest if {
	not has_parent_component(input.path)
	some prefix in policy_data.request_defaults.CopyFileRequest
	regex.match(prefix, input.path)
	copy_allowed(prefix, input.file_type)
}

has_parent_component(path) if ".." in split(path, "/")

copy_allowed(_, "Regular") := true

copy_allowed(_, "Directory") := true

copy_allowed(prefix, "Symlink") if {
	regex.match(concat("", [prefix, "[^/]*/."]), input.path)
	target := input.symlink_target
	target != ""
	not startswith(target, "/")
	not has_parent_component(target)
}

# ---------------------------------------------------------------------------
# Networking: the host configures the pod's interfaces, routes and ARP
# entries, but cannot take over loopback or add loopback addresses.
UpdateInterfaceRequest if {
	settings := policy_data.request_defaults.UpdateInterfaceRequest
	interface := input.interface
	bits.and(interface.raw_flags, bits.negate(settings.allow_raw_flags)) == 0
	not interface.name in settings.forbidden_names
	not interface.hwAddr in settings.forbidden_hw_addrs
}

UpdateRoutesRequest if {
	settings := policy_data.request_defaults.UpdateRoutesRequest
	every route in input.routes.Routes {
		not route.device in settings.forbidden_device_names
		not matches_any(settings.forbidden_source_regex, route.source)
	}
}

AddARPNeighborsRequest if {
	settings := policy_data.request_defaults.AddARPNeighborsRequest
	every neighbor in input.neighbors.ARPNeighbors {
		not neighbor.device in settings.forbidden_device_names
		neighbor.toIPAddress.mask == ""
		not matches_any(settings.forbidden_cidrs_regex, neighbor.toIPAddress.address)
		neighbor.state in settings.allowed_states
		bits.or(neighbor.flags, settings.allowed_flags) == settings.allowed_flags
	}
}

matches_any(patterns, value) if {
	some pattern in patterns
	regex.match(pattern, value)
}
