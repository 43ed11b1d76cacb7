#include "attest/emulated/tsm_fs.h"

// The libfuse 3.12+ API (fuse_loop_cfg_*).
#define FUSE_USE_VERSION 312
#include <fcntl.h>
#include <fuse.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

#include <spdlog/spdlog.h>

#include "attest/snp/cert_table.h"
#include "attest/tsm/configfs_tsm.h"
#include "crypto/x509.h"

namespace contrast::attest::emulated {
namespace {

enum class Attribute { kAuxblob, kGeneration, kInblob, kOutblob, kPrivlevel, kPrivlevelFloor, kProvider };

struct AttributeSpec {
  std::string_view name;
  Attribute attribute;
  mode_t mode;  // as configfs shows them: read-only 0444, write-only 0200
};

constexpr std::array<AttributeSpec, 7> kAttributes = {{
    {"auxblob", Attribute::kAuxblob, 0444},
    {"generation", Attribute::kGeneration, 0444},
    {"inblob", Attribute::kInblob, 0200},
    {"outblob", Attribute::kOutblob, 0444},
    {"privlevel", Attribute::kPrivlevel, 0644},
    {"privlevel_floor", Attribute::kPrivlevelFloor, 0444},
    {"provider", Attribute::kProvider, 0444},
}};

constexpr size_t kMaxInblob = 64;             // TSM_INBLOB_MAX
constexpr size_t kMaxTextWrite = 64;          // privlevel: a few digits and a newline
constexpr unsigned kPrivlevelFloor = 0;       // SNP: VMPL 0 may ask for any level
constexpr unsigned kPrivlevelMax = 3;         // TSM_PRIVLEVEL_MAX
constexpr off_t kAttributeSize = 4096;        // what configfs reports for every attribute
constexpr uint8_t kForeignInblobByte = 0x5a;  // the racing writer's REPORT_DATA (test hook)

bool Readable(const AttributeSpec& spec) { return (spec.mode & 0444) != 0; }
bool Writable(const AttributeSpec& spec) { return (spec.mode & 0222) != 0; }

// outblob and auxblob of one generation.
struct Blobs {
  uint64_t generation = 0;
  Bytes outblob;
  Bytes auxblob;
};

struct Entry {
  std::mutex mutex;
  Bytes inblob;
  unsigned privlevel = 0;
  uint64_t generation = 0;
  std::optional<Blobs> cached;
};

// One open attribute file.
struct OpenFile {
  std::shared_ptr<Entry> entry;
  const AttributeSpec* spec = nullptr;
  std::mutex mutex;
  // What reads of this file see: made at the first read, like configfs.
  std::optional<Bytes> contents;
  // inblob: what this writer wrote so far; committed when it closes the file.
  Bytes written;
  bool dirty = false;
};

struct ParsedPath {
  enum class Kind { kRoot, kReport, kEntry, kAttribute, kOther } kind = Kind::kOther;
  std::string entry;
  const AttributeSpec* spec = nullptr;
};

ParsedPath Parse(std::string_view path) {
  std::vector<std::string_view> parts;
  while (!path.empty()) {
    const size_t slash = path.find('/');
    const std::string_view part = path.substr(0, slash);
    if (!part.empty()) parts.push_back(part);
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  ParsedPath parsed;
  if (parts.empty()) {
    parsed.kind = ParsedPath::Kind::kRoot;
    return parsed;
  }
  if (parts[0] != "report" || parts.size() > 3) return parsed;
  if (parts.size() == 1) {
    parsed.kind = ParsedPath::Kind::kReport;
    return parsed;
  }
  parsed.entry = std::string(parts[1]);
  if (parts.size() == 2) {
    parsed.kind = ParsedPath::Kind::kEntry;
    return parsed;
  }
  for (const AttributeSpec& spec : kAttributes) {
    if (spec.name == parts[2]) {
      parsed.kind = ParsedPath::Kind::kAttribute;
      parsed.spec = &spec;
    }
  }
  return parsed;
}

Bytes TextBytes(const std::string& text) { return Bytes(text.begin(), text.end()); }

// libfuse reports mount problems through its log; keep the last message so
// errors can name it, and pass everything on to stderr.
std::mutex g_log_mutex;
std::string g_last_log;  // guarded by g_log_mutex

extern "C" void CaptureFuseLog(enum fuse_log_level /*level*/, const char* format, va_list ap) {
  std::array<char, 512> buffer{};
  std::vsnprintf(buffer.data(), buffer.size(), format, ap);
  std::string message(buffer.data());
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  std::fprintf(stderr, "%s\n", message.c_str());
  const std::lock_guard lock(g_log_mutex);
  g_last_log = message;
}

std::string TakeLastFuseLog() {
  const std::lock_guard lock(g_log_mutex);
  return std::exchange(g_last_log, std::string());
}

// fusermount3 is what makes `auto_unmount` work: it outlives a killed file
// system process and unmounts for it.
bool HaveFusermount() {
  if (::access("/usr/bin/fusermount3", X_OK) == 0) return true;
  const char* path = std::getenv("PATH");
  if (path == nullptr) return false;
  std::string_view dirs(path);
  while (!dirs.empty()) {
    const size_t colon = dirs.find(':');
    const std::string dir(dirs.substr(0, colon));
    if (!dir.empty() && ::access((dir + "/fusermount3").c_str(), X_OK) == 0) return true;
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  return false;
}

// Detaches the mount so the kernel ends the FUSE connection and the serving
// threads return. Root unmounts directly; others through fusermount3.
void LazyUnmount(const std::filesystem::path& mountpoint) {
  if (::geteuid() == 0) {
    if (::umount2(mountpoint.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
      spdlog::warn("emulated configfs-tsm: unmounting {}: {}", mountpoint.string(), std::strerror(errno));
    }
    return;
  }
  std::vector<std::string> args = {"fusermount3", "-u", "-z", "-q", mountpoint.string()};
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (::posix_spawnp(&pid, "fusermount3", nullptr, nullptr, argv.data(), environ) != 0) {
    spdlog::warn("emulated configfs-tsm: cannot run fusermount3 to unmount {}", mountpoint.string());
    return;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

struct TsmFileSystem::Impl {
  Impl(std::filesystem::path mount, TsmReportSource reports, TsmFileSystemOptions opts)
      : mountpoint(std::move(mount)), source(std::move(reports)), options(opts) {
    ::clock_gettime(CLOCK_REALTIME, &mounted_at);
  }

  const std::filesystem::path mountpoint;
  const TsmReportSource source;
  const TsmFileSystemOptions options;
  struct fuse* fuse = nullptr;
  std::thread loop;
  timespec mounted_at{};
  std::atomic<bool> raced{false};

  std::mutex mutex;
  std::map<std::string, std::shared_ptr<Entry>> entries;  // guarded by mutex
  std::condition_variable ended_cv;
  bool ended = false;  // guarded by mutex
  std::once_flag unmount_once;

  static Impl& Self() { return *static_cast<Impl*>(fuse_get_context()->private_data); }

  std::shared_ptr<Entry> Find(const std::string& name) {
    const std::lock_guard lock(mutex);
    const auto it = entries.find(name);
    return it == entries.end() ? nullptr : it->second;
  }

  const EmulatedTdxGuest* tdx_guest() const { return std::get_if<EmulatedTdxGuest>(&source); }

  std::string_view provider() const {
    return tdx_guest() != nullptr ? tsm::kProviderTdxGuest : tsm::kProviderInsecureEmulated;
  }

  bool Present(const AttributeSpec& spec) const {
    if (spec.attribute == Attribute::kProvider) return !options.omit_provider_for_test;
    // The kernel gives tdx_guest entries only the attributes every provider
    // has: no auxblob, no privlevel.
    if (tdx_guest() != nullptr) {
      return spec.attribute != Attribute::kAuxblob && spec.attribute != Attribute::kPrivlevel &&
             spec.attribute != Attribute::kPrivlevelFloor;
    }
    return true;
  }

  // A TDX quote for the TD's fields with REPORTDATA = the inblob.
  static Result<Blobs> TdxBlobs(const EmulatedTdxGuest& guest, const Entry& entry) {
    auto quote = guest.platform.Quote(guest.td, entry.inblob, guest.quote_version);
    if (!quote) return Fail(quote.error().Wrap("quote from the emulated TDX platform"));
    return Blobs{entry.generation, std::move(*quote), {}};
  }

  static Result<Blobs> SnpBlobs(const GuestClient& client, const Entry& entry) {
    auto evidence = client.GetReport(entry.inblob);
    if (!evidence) return Fail(evidence.error().Wrap("report from the emulated secure processor"));
    auto chain = crypto::Certificate::ParsePemChain(evidence->cert_chain_pem);
    if (!chain || chain->size() != 2) {
      return Fail(ErrorCode::kParse, "the emulated secure processor's chain is not ASK then ARK");
    }
    snp::CertTable table;
    table.entries.push_back({snp::kGuidVcek, evidence->vcek_der});
    table.entries.push_back({snp::kGuidAsk, (*chain)[0].Der()});
    table.entries.push_back({snp::kGuidArk, (*chain)[1].Der()});
    return Blobs{entry.generation, std::move(evidence->report), snp::BuildCertTable(table)};
  }

  // outblob and auxblob for the entry's current generation (entry.mutex
  // held): made once per generation, like the kernel.
  Result<const Blobs*> CurrentBlobs(Entry& entry, Attribute reading) {
    if (reading == Attribute::kOutblob && options.race_first_outblob_read_for_test && !raced.exchange(true)) {
      entry.inblob.assign(kMaxInblob, kForeignInblobByte);
      ++entry.generation;
    }
    if (entry.cached && entry.cached->generation == entry.generation) return &*entry.cached;
    const EmulatedTdxGuest* tdx = tdx_guest();
    auto blobs = tdx != nullptr ? TdxBlobs(*tdx, entry) : SnpBlobs(std::get<GuestClient>(source), entry);
    if (!blobs) return Fail(blobs.error());
    entry.cached = std::move(*blobs);
    return &*entry.cached;
  }

  Result<Bytes> Contents(Entry& entry, Attribute attribute) {
    const std::lock_guard lock(entry.mutex);
    switch (attribute) {
      case Attribute::kGeneration: return TextBytes(std::to_string(entry.generation) + "\n");
      case Attribute::kProvider: return TextBytes(std::string(provider()) + "\n");
      case Attribute::kPrivlevel: return TextBytes(std::to_string(entry.privlevel) + "\n");
      case Attribute::kPrivlevelFloor: return TextBytes(std::to_string(kPrivlevelFloor) + "\n");
      case Attribute::kOutblob:
      case Attribute::kAuxblob: {
        auto blobs = CurrentBlobs(entry, attribute);
        if (!blobs) return Fail(blobs.error());
        return attribute == Attribute::kOutblob ? (*blobs)->outblob : (*blobs)->auxblob;
      }
      case Attribute::kInblob: break;
    }
    return Fail(ErrorCode::kInternal, "attribute is not readable");
  }

  // ---- FUSE operations (negative errno on failure) ----

  static void* Init(struct fuse_conn_info* /*conn*/, struct fuse_config* config) {
    // Nothing may be cached: entries come and go, and attributes change on
    // every write.
    config->entry_timeout = 0;
    config->attr_timeout = 0;
    config->negative_timeout = 0;
    config->direct_io = 1;
    return fuse_get_context()->private_data;
  }

  static int GetAttr(const char* path, struct stat* st, struct fuse_file_info* /*fi*/) {
    Impl& fs = Self();
    std::memset(st, 0, sizeof(*st));
    st->st_uid = 0;
    st->st_gid = 0;
    st->st_atim = st->st_mtim = st->st_ctim = fs.mounted_at;
    const ParsedPath parsed = Parse(path);
    switch (parsed.kind) {
      case ParsedPath::Kind::kRoot:
      case ParsedPath::Kind::kReport:
        st->st_mode = S_IFDIR | 0755;
        st->st_nlink = 2;
        return 0;
      case ParsedPath::Kind::kEntry:
        if (fs.Find(parsed.entry) == nullptr) return -ENOENT;
        st->st_mode = S_IFDIR | 0755;
        st->st_nlink = 2;
        return 0;
      case ParsedPath::Kind::kAttribute:
        if (fs.Find(parsed.entry) == nullptr || !fs.Present(*parsed.spec)) return -ENOENT;
        st->st_mode = S_IFREG | parsed.spec->mode;
        st->st_nlink = 1;
        st->st_size = kAttributeSize;
        return 0;
      case ParsedPath::Kind::kOther: break;
    }
    return -ENOENT;
  }

  static int ReadDir(const char* path, void* buffer, fuse_fill_dir_t fill, off_t /*offset*/,
                     struct fuse_file_info* /*fi*/, enum fuse_readdir_flags /*flags*/) {
    Impl& fs = Self();
    const auto add = [&](const std::string& name) { fill(buffer, name.c_str(), nullptr, 0, fuse_fill_dir_flags{}); };
    const ParsedPath parsed = Parse(path);
    std::vector<std::string> names;
    switch (parsed.kind) {
      case ParsedPath::Kind::kRoot: names.emplace_back("report"); break;
      case ParsedPath::Kind::kReport: {
        const std::lock_guard lock(fs.mutex);
        for (const auto& [name, entry] : fs.entries) names.push_back(name);
        break;
      }
      case ParsedPath::Kind::kEntry:
        if (fs.Find(parsed.entry) == nullptr) return -ENOENT;
        for (const AttributeSpec& spec : kAttributes) {
          if (fs.Present(spec)) names.emplace_back(spec.name);
        }
        break;
      case ParsedPath::Kind::kAttribute: return -ENOTDIR;
      case ParsedPath::Kind::kOther: return -ENOENT;
    }
    add(".");
    add("..");
    for (const std::string& name : names) add(name);
    return 0;
  }

  static int MakeDir(const char* path, mode_t /*mode*/) {
    Impl& fs = Self();
    const ParsedPath parsed = Parse(path);
    if (parsed.kind != ParsedPath::Kind::kEntry) return -EPERM;
    const std::lock_guard lock(fs.mutex);
    if (fs.entries.count(parsed.entry) != 0) return -EEXIST;
    if (fs.entries.size() >= fs.options.max_entries) return -ENOSPC;
    fs.entries.emplace(parsed.entry, std::make_shared<Entry>());
    return 0;
  }

  static int RemoveDir(const char* path) {
    Impl& fs = Self();
    const ParsedPath parsed = Parse(path);
    if (parsed.kind == ParsedPath::Kind::kAttribute) return -ENOTDIR;
    if (parsed.kind != ParsedPath::Kind::kEntry) return -EPERM;
    const std::lock_guard lock(fs.mutex);
    return fs.entries.erase(parsed.entry) == 1 ? 0 : -ENOENT;
  }

  static int Open(const char* path, struct fuse_file_info* fi) {
    Impl& fs = Self();
    const ParsedPath parsed = Parse(path);
    if (parsed.kind != ParsedPath::Kind::kAttribute) return parsed.kind == ParsedPath::Kind::kOther ? -ENOENT : -EISDIR;
    auto entry = fs.Find(parsed.entry);
    if (entry == nullptr || !fs.Present(*parsed.spec)) return -ENOENT;
    // configfs refuses to open an attribute in a direction it does not have,
    // whoever asks (root too).
    const int access = fi->flags & O_ACCMODE;
    if ((access != O_WRONLY && !Readable(*parsed.spec)) || (access != O_RDONLY && !Writable(*parsed.spec))) {
      return -EACCES;
    }
    auto file = std::make_unique<OpenFile>();
    file->entry = std::move(entry);
    file->spec = parsed.spec;
    fi->direct_io = 1;
    fi->keep_cache = 0;
    fi->fh = reinterpret_cast<uint64_t>(file.release());
    return 0;
  }

  static OpenFile& FileOf(struct fuse_file_info* fi) { return *reinterpret_cast<OpenFile*>(fi->fh); }

  static int Read(const char* /*path*/, char* buffer, size_t size, off_t offset, struct fuse_file_info* fi) {
    Impl& fs = Self();
    OpenFile& file = FileOf(fi);
    const std::lock_guard lock(file.mutex);
    if (!file.contents) {
      auto contents = fs.Contents(*file.entry, file.spec->attribute);
      if (!contents) {
        spdlog::warn("emulated configfs-tsm: reading {}: {}", file.spec->name, contents.error().message);
        return -EIO;
      }
      file.contents = std::move(*contents);
    }
    if (offset < 0) return -EINVAL;
    const auto start = static_cast<size_t>(offset);
    if (start >= file.contents->size()) return 0;
    const size_t n = std::min(size, file.contents->size() - start);
    std::memcpy(buffer, file.contents->data() + start, n);
    return static_cast<int>(n);
  }

  static int Write(const char* /*path*/, const char* buffer, size_t size, off_t offset, struct fuse_file_info* fi) {
    OpenFile& file = FileOf(fi);
    if (offset < 0) return -EINVAL;
    if (file.spec->attribute == Attribute::kInblob) {
      const std::lock_guard lock(file.mutex);
      const auto start = static_cast<size_t>(offset);
      if (start > kMaxInblob || size > kMaxInblob - start) return -EFBIG;
      if (file.written.size() < start + size) file.written.resize(start + size, 0);
      std::memcpy(file.written.data() + start, buffer, size);
      file.dirty = true;
      return static_cast<int>(size);
    }
    if (file.spec->attribute != Attribute::kPrivlevel) return -EACCES;
    // Like kstrtouint: digits, optionally one trailing newline.
    std::string_view text(buffer, size);
    if (size > kMaxTextWrite) return -EINVAL;
    if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    if (text.empty() || text.size() > 9 || text.find_first_not_of("0123456789") != std::string_view::npos) {
      return -EINVAL;
    }
    const auto value = static_cast<unsigned>(std::stoul(std::string(text)));
    if (value < kPrivlevelFloor || value > kPrivlevelMax) return -EINVAL;
    const std::lock_guard lock(file.entry->mutex);
    file.entry->privlevel = value;
    ++file.entry->generation;
    return static_cast<int>(size);
  }

  // configfs hands a binary attribute's buffer to the driver when the writer
  // closes it; with FUSE, close() is `flush` (release comes asynchronously).
  static void Commit(OpenFile& file) {
    const std::lock_guard lock(file.mutex);
    if (!file.dirty) return;
    const std::lock_guard entry_lock(file.entry->mutex);
    file.entry->inblob = file.written;
    ++file.entry->generation;
    file.written.clear();
    file.dirty = false;
  }

  static int Flush(const char* /*path*/, struct fuse_file_info* fi) {
    Commit(FileOf(fi));
    return 0;
  }

  static int Release(const char* /*path*/, struct fuse_file_info* fi) {
    std::unique_ptr<OpenFile> file(&FileOf(fi));
    Commit(*file);
    return 0;
  }

  // `echo 1 > privlevel` truncates first.
  static int Truncate(const char* path, off_t /*size*/, struct fuse_file_info* /*fi*/) {
    const ParsedPath parsed = Parse(path);
    if (parsed.kind != ParsedPath::Kind::kAttribute) return -EISDIR;
    return Writable(*parsed.spec) ? 0 : -EACCES;
  }

  static int Create(const char* /*path*/, mode_t /*mode*/, struct fuse_file_info* /*fi*/) { return -EACCES; }
  static int MakeNode(const char* /*path*/, mode_t /*mode*/, dev_t /*dev*/) { return -EACCES; }
  static int Unlink(const char* /*path*/) { return -EPERM; }
  static int Rename(const char* /*from*/, const char* /*to*/, unsigned int /*flags*/) { return -EPERM; }
  static int Chmod(const char* /*path*/, mode_t /*mode*/, struct fuse_file_info* /*fi*/) { return -EPERM; }
  static int Chown(const char* /*path*/, uid_t /*uid*/, gid_t /*gid*/, struct fuse_file_info* /*fi*/) { return -EPERM; }

  static struct fuse_operations Operations() {
    struct fuse_operations ops {};
    ops.init = Init;
    ops.getattr = GetAttr;
    ops.readdir = ReadDir;
    ops.mkdir = MakeDir;
    ops.rmdir = RemoveDir;
    ops.open = Open;
    ops.read = Read;
    ops.write = Write;
    ops.flush = Flush;
    ops.release = Release;
    ops.truncate = Truncate;
    ops.create = Create;
    ops.mknod = MakeNode;
    ops.unlink = Unlink;
    ops.rename = Rename;
    ops.chmod = Chmod;
    ops.chown = Chown;
    return ops;
  }

  void Serve() {
    // Several threads: a Coordinator issues evidence for many sessions at
    // once, and each outblob read waits for the daemon.
    struct fuse_loop_config* config = fuse_loop_cfg_create();
    fuse_loop_cfg_set_max_threads(config, 16);
    fuse_loop_cfg_set_idle_threads(config, 4);
    fuse_loop_cfg_set_clone_fd(config, 0);
    fuse_loop_mt(fuse, config);
    fuse_loop_cfg_destroy(config);
    const std::lock_guard lock(mutex);
    ended = true;
    ended_cv.notify_all();
  }
};

Result<std::unique_ptr<TsmFileSystem>> TsmFileSystem::Mount(const std::filesystem::path& mountpoint,
                                                            TsmReportSource source, TsmFileSystemOptions options) {
  if (const int fd = ::open("/dev/fuse", O_RDWR | O_CLOEXEC); fd >= 0) {
    ::close(fd);
  } else {
    const int error = errno;
    if (error == ENOENT) {
      return Fail(ErrorCode::kNotFound,
                  "/dev/fuse: No such file or directory: FUSE is not available here (load the fuse module, or give "
                  "the container the device)");
    }
    return Fail(ErrorCode::kIo,
                "/dev/fuse: " + std::string(std::strerror(error)) + " (errno " + std::to_string(error) + ")");
  }
  struct stat st {};
  if (::stat(mountpoint.c_str(), &st) != 0) {
    const int error = errno;
    return Fail(
        error == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIo,
        "mount point " + mountpoint.string() + ": " + std::strerror(error) + " (errno " + std::to_string(error) + ")");
  }
  if (!S_ISDIR(st.st_mode)) {
    return Fail(ErrorCode::kInvalidArgument, "mount point " + mountpoint.string() + ": not a directory");
  }

  static std::once_flag log_once;
  std::call_once(log_once, [] { fuse_set_log_func(CaptureFuseLog); });
  TakeLastFuseLog();

  auto impl = std::make_unique<Impl>(mountpoint, std::move(source), options);
  // auto_unmount: fusermount3 unmounts for us even when this process is
  // killed, so no dead mount is left behind.
  std::string mount_options = "fsname=contrast-emulated-tsm,subtype=contrast-tsm";
  if (HaveFusermount()) mount_options += ",auto_unmount";
  std::vector<std::string> arguments = {"contrast-emulated-tsm", "-o", mount_options};
  std::vector<char*> argv;
  for (std::string& argument : arguments) argv.push_back(argument.data());
  struct fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  const struct fuse_operations ops = Impl::Operations();
  impl->fuse = fuse_new(&args, &ops, sizeof(ops), impl.get());
  fuse_opt_free_args(&args);  // option parsing may have copied them
  if (impl->fuse == nullptr) {
    return Fail(ErrorCode::kInternal, "libfuse: cannot create the file system: " + TakeLastFuseLog());
  }
  errno = 0;
  if (fuse_mount(impl->fuse, mountpoint.c_str()) != 0) {
    const int error = errno;
    fuse_destroy(impl->fuse);
    std::string message = "mounting the emulated configfs-tsm on " + mountpoint.string() + " failed";
    if (const std::string log = TakeLastFuseLog(); !log.empty()) message += ": " + log;
    if (error != 0) message += " (errno " + std::to_string(error) + ", " + std::strerror(error) + ")";
    return Fail(ErrorCode::kIo, message);
  }
  Impl* raw = impl.get();
  impl->loop = std::thread([raw] { raw->Serve(); });
  return std::unique_ptr<TsmFileSystem>(new TsmFileSystem(std::move(impl)));
}

TsmFileSystem::TsmFileSystem(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

TsmFileSystem::~TsmFileSystem() {
  Unmount();
  if (impl_->loop.joinable()) impl_->loop.join();
  // The connection has ended: this only closes the device.
  fuse_unmount(impl_->fuse);
  fuse_destroy(impl_->fuse);
}

const std::filesystem::path& TsmFileSystem::mountpoint() const { return impl_->mountpoint; }

void TsmFileSystem::Wait() {
  std::unique_lock lock(impl_->mutex);
  impl_->ended_cv.wait(lock, [&] { return impl_->ended; });
}

void TsmFileSystem::Unmount() {
  std::call_once(impl_->unmount_once, [&] {
    fuse_exit(impl_->fuse);
    {
      const std::lock_guard lock(impl_->mutex);
      if (impl_->ended) return;
    }
    LazyUnmount(impl_->mountpoint);
  });
}

}  // namespace contrast::attest::emulated
