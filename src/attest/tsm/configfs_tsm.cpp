#include "attest/tsm/configfs_tsm.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <random>
#include <system_error>
#include <utility>

#include "attest/tsm/snp_evidence.h"

namespace contrast::attest::tsm {
namespace {

namespace fs = std::filesystem;

// auxblob holds the SNP certificate table: a few KiB in practice (the kernel
// caps it at 16 KiB today); the bound only keeps a hostile provider from
// making us allocate without limit.
constexpr size_t kMaxAuxblobSize = 1024 * 1024;
// `provider` and `generation` are one short line each.
constexpr size_t kMaxAttributeSize = 4096;

std::string ErrnoText(int error) { return std::error_code(error, std::generic_category()).message(); }

Error IoError(std::string_view action, const fs::path& path, int error) {
  std::string message = "configfs-tsm: " + std::string(action) + " " + path.string() + ": " + ErrnoText(error);
  // The kernel refuses reads of blobs beyond its internal maximum this way.
  if (error == EFBIG) message += " (the provider's blob exceeds the kernel's size limit)";
  return Error{ErrorCode::kIo, std::move(message)};
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // Closing is where configfs commits a binary attribute write: its error counts.
  int Close() {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

// Reads the whole file, failing when it holds more than `limit` bytes.
// `missing` is what a file that does not exist reads as (nullopt: an error).
Result<Bytes> ReadBounded(const fs::path& path, size_t limit, std::optional<Bytes> missing = std::nullopt) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT && missing) return *missing;
    return Fail(IoError("opening", path, errno));
  }
  Bytes data;
  uint8_t chunk[16 * 1024];
  while (true) {
    const ssize_t n = ::read(fd.get(), chunk, sizeof chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Fail(IoError("reading", path, errno));
    }
    if (n == 0) break;
    if (data.size() + static_cast<size_t>(n) > limit) {
      return Fail(ErrorCode::kIo,
                  "configfs-tsm: reading " + path.string() + ": more than " + std::to_string(limit) + " bytes");
    }
    data.insert(data.end(), chunk, chunk + n);
  }
  return data;
}

Status WriteAttribute(const fs::path& path, ByteView data) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (fd.get() < 0) return Fail(IoError("opening", path, errno));
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd.get(), data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Fail(IoError("writing", path, errno));
    }
    done += static_cast<size_t>(n);
  }
  if (fd.Close() != 0) return Fail(IoError("writing", path, errno));
  return {};
}

std::string_view TrimLine(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\0')) text.remove_suffix(1);
  return text;
}

Result<uint64_t> ReadGeneration(const fs::path& entry) {
  const fs::path path = entry / "generation";
  auto bytes = ReadBounded(path, kMaxAttributeSize);
  if (!bytes) return Fail(bytes.error());
  const std::string_view text = TrimLine(AsChars(*bytes));
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    return Fail(ErrorCode::kParse,
                "configfs-tsm: " + path.string() + " is not a number: \"" + std::string(text) + "\"");
  }
  return value;
}

Result<std::string> ReadProvider(const fs::path& entry) {
  auto bytes = ReadBounded(entry / "provider", kMaxAttributeSize);
  if (!bytes) return Fail(bytes.error());
  return std::string(TrimLine(AsChars(*bytes)));
}

std::optional<std::string_view> PlatformOfProvider(std::string_view provider) {
  if (provider == kProviderSevGuest) return kPlatformSnp;
  if (provider == kProviderTdxGuest) return kPlatformTdx;
  if (provider == kProviderInsecureEmulated) return kPlatformInsecureEmulatedSnp;
  return std::nullopt;
}

bool IsSnpFormat(std::string_view provider) {
  return provider == kProviderSevGuest || provider == kProviderInsecureEmulated;
}

// A name no other caller uses: configfs-tsm entries are shared by every
// process on the machine, and a reused name would let two requests mix.
std::string UniqueEntryName() {
  static std::atomic<uint64_t> counter{0};
  thread_local std::mt19937_64 random{std::random_device{}()};
  char suffix[17];
  const uint64_t r = random();
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 0; i < 16; ++i) suffix[i] = kHex[(r >> (4 * i)) & 0xf];
  suffix[16] = '\0';
  return "contrast-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1)) + "-" + suffix;
}

// One report entry, removed again however the request ends.
class ReportEntry {
 public:
  static Result<ReportEntry> Create(const fs::path& report_dir) {
    fs::path path = report_dir / UniqueEntryName();
    if (::mkdir(path.c_str(), 0700) != 0) return Fail(IoError("creating", path, errno));
    return ReportEntry(std::move(path));
  }
  ReportEntry(ReportEntry&& other) noexcept : path_(std::exchange(other.path_, fs::path())) {}
  ReportEntry& operator=(ReportEntry&&) = delete;
  ~ReportEntry() {
    // On failure paths the first error is what the caller needs; a failed
    // rmdir here would only hide it.
    if (!path_.empty()) ::rmdir(path_.c_str());
  }
  const fs::path& path() const { return path_; }
  Status Remove() {
    const fs::path path = std::exchange(path_, fs::path());
    if (::rmdir(path.c_str()) != 0) return Fail(IoError("removing", path, errno));
    return {};
  }

 private:
  explicit ReportEntry(fs::path path) : path_(std::move(path)) {}
  fs::path path_;
};

}  // namespace

Result<std::unique_ptr<ConfigfsTsmIssuer>> ConfigfsTsmIssuer::Open(ConfigfsTsmOptions options) {
  if (options.privlevel < -1 || options.privlevel > 3) {
    return Fail(ErrorCode::kInvalidArgument,
                "configfs-tsm: privlevel " + std::to_string(options.privlevel) + " is out of range (0..3, or unset)");
  }
  if (options.max_attempts < 1) {
    return Fail(ErrorCode::kInvalidArgument,
                "configfs-tsm: max_attempts must be at least 1, not " + std::to_string(options.max_attempts));
  }
  const fs::path report_dir = options.tsm_dir / "report";
  struct stat st {};
  if (::stat(report_dir.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      return Fail(ErrorCode::kNotFound, "configfs-tsm not available at " + report_dir.string() +
                                            " (kernel 6.7+ with sev_guest or tdx_guest; mount configfs at "
                                            "/sys/kernel/config)");
    }
    return Fail(IoError("inspecting", report_dir, errno));
  }
  if (!S_ISDIR(st.st_mode)) return Fail(IoError("inspecting", report_dir, ENOTDIR));

  // `provider` exists only inside an entry: probe with one.
  auto entry = ReportEntry::Create(report_dir);
  if (!entry) return Fail(entry.error());
  auto provider = ReadProvider(entry->path());
  if (!provider) return Fail(provider.error());
  if (auto removed = entry->Remove(); !removed) return Fail(removed.error());
  if (!PlatformOfProvider(*provider)) {
    return Fail(ErrorCode::kUnsupported, "configfs-tsm: provider \"" + *provider + "\" at " + report_dir.string() +
                                             " is not supported (known: sev_guest, tdx_guest, emulated_sev_guest)");
  }
  return std::unique_ptr<ConfigfsTsmIssuer>(new ConfigfsTsmIssuer(std::move(options), std::move(*provider)));
}

ConfigfsTsmIssuer::ConfigfsTsmIssuer(ConfigfsTsmOptions options, std::string provider)
    : options_(std::move(options)), provider_(std::move(provider)) {}

std::string_view ConfigfsTsmIssuer::platform() const { return *PlatformOfProvider(provider_); }

Result<Evidence> ConfigfsTsmIssuer::Issue(const ReportData& report_data) {
  const fs::path report_dir = options_.tsm_dir / "report";
  const bool snp_format = IsSnpFormat(provider_);
  for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
    auto entry = ReportEntry::Create(report_dir);
    if (!entry) return Fail(entry.error());
    const fs::path dir = entry->path();  // a copy: Remove() clears the entry's

    // The kernel's contract (Documentation/ABI/testing/configfs-tsm): every
    // write of inblob or an option advances `generation`; when, after the
    // blobs are read, it moved by more than our own writes, someone else
    // wrote to the entry and the blobs may belong to their request.
    auto before = ReadGeneration(dir);
    if (!before) return Fail(before.error());
    uint64_t our_writes = 0;
    if (options_.privlevel >= 0) {
      const std::string level = std::to_string(options_.privlevel);
      if (auto written = WriteAttribute(dir / "privlevel", AsBytes(level)); !written) return Fail(written.error());
      ++our_writes;
    }
    if (auto written = WriteAttribute(dir / "inblob", report_data); !written) return Fail(written.error());
    ++our_writes;

    auto outblob = ReadBounded(dir / "outblob", kMaxReportSize);
    if (!outblob) return Fail(outblob.error());
    // Absent (no certificates from the host) and empty are both fine; TDX
    // has no auxblob.
    Result<Bytes> auxblob = Bytes{};
    if (snp_format) auxblob = ReadBounded(dir / "auxblob", kMaxAuxblobSize, Bytes{});
    if (!auxblob) return Fail(auxblob.error());
    auto after = ReadGeneration(dir);
    if (!after) return Fail(after.error());
    // Re-read the provider too: it is per entry, and a different one would
    // mean a different kind of evidence than the platform we announced.
    auto provider = ReadProvider(dir);
    if (!provider) return Fail(provider.error());
    if (*provider != provider_) {
      return Fail(ErrorCode::kFailedPrecondition, "configfs-tsm: " + (dir / "provider").string() + " is \"" +
                                                      *provider + "\", but was \"" + provider_ + "\" at start");
    }
    if (*after != *before + our_writes) continue;  // raced: the entry goes, try a fresh one

    if (auto removed = entry->Remove(); !removed) return Fail(removed.error());
    if (outblob->empty()) {
      return Fail(ErrorCode::kIo, "configfs-tsm: " + (dir / "outblob").string() + " is empty");
    }
    if (!snp_format) {
      Evidence evidence;
      evidence.platform = std::string(kPlatformTdx);
      evidence.report = std::move(*outblob);
      return evidence;
    }
    return MakeSnpEvidence(platform(), std::move(*outblob), *auxblob, report_data, "configfs-tsm " + dir.string());
  }
  return Fail(ErrorCode::kConflict, "configfs-tsm: another writer changed the report entry under " +
                                        report_dir.string() + " in each of " + std::to_string(options_.max_attempts) +
                                        " attempts");
}

}  // namespace contrast::attest::tsm
