#include "history/directory_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <utility>

#include "common/files.h"

namespace contrast::history {
namespace {

constexpr const char* kSubdirectories[] = {"manifests", "policies", "transitions", "sealed"};
constexpr const char* kLockFile = ".lock";

Error ErrnoError(std::string_view what, const std::filesystem::path& path) {
  const int err = errno;
  return Error{ErrorCode::kIo, std::string(what) + " " + path.string() + ": " + std::strerror(err)};
}

// An exclusive flock on the store's lock file, released on destruction.
class FileLock {
 public:
  static Result<FileLock> Acquire(const std::filesystem::path& path) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return Fail(ErrnoError("cannot open lock file", path));
    while (::flock(fd, LOCK_EX) != 0) {
      if (errno == EINTR) continue;
      Error error = ErrnoError("cannot lock", path);
      ::close(fd);
      return Fail(std::move(error));
    }
    return FileLock(fd);
  }
  FileLock(FileLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  FileLock& operator=(FileLock&&) = delete;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  ~FileLock() {
    if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the lock
  }

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace

Result<std::shared_ptr<DirectoryStore>> DirectoryStore::Open(const std::filesystem::path& root,
                                                             DirectoryStoreOptions options) {
  if (root.empty()) return Fail(ErrorCode::kInvalidArgument, "history directory path is empty");
  for (const char* sub : kSubdirectories) {
    std::error_code ec;
    const std::filesystem::path dir = root / sub;
    std::filesystem::create_directories(dir, ec);
    if (ec) return Fail(ErrorCode::kIo, "cannot create history directory " + dir.string() + ": " + ec.message());
    if (!std::filesystem::is_directory(dir, ec)) {
      return Fail(ErrorCode::kIo, "history path " + dir.string() + " exists but is not a directory");
    }
    std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);  // best effort
  }
  return std::shared_ptr<DirectoryStore>(new DirectoryStore(root, options));
}

Result<std::optional<Bytes>> DirectoryStore::ReadValue(std::string_view key) const {
  const std::filesystem::path path = root_ / std::string(key);
  auto bytes = ReadFile(path, options_.max_value_size);
  if (bytes) return std::optional<Bytes>(std::move(*bytes));
  if (bytes.error().code == ErrorCode::kNotFound) return std::optional<Bytes>();
  if (bytes.error().code == ErrorCode::kInvalidArgument) {
    return Fail(ErrorCode::kParse, "history value " + std::string(key) + " is larger than the limit of " +
                                       std::to_string(options_.max_value_size) + " bytes");
  }
  return Fail(bytes.error().Wrap("reading history value " + std::string(key)));
}

Status DirectoryStore::WriteValue(std::string_view key, ByteView value) const {
  if (auto written = WriteFileAtomic(root_ / std::string(key), value, 0600); !written) {
    return Fail(written.error().Wrap("writing history value " + std::string(key)));
  }
  return {};
}

Result<std::optional<Bytes>> DirectoryStore::Get(std::string_view key) {
  if (auto valid = ValidateStoreKey(key); !valid) return Fail(valid.error());
  return ReadValue(key);
}

Result<bool> DirectoryStore::Has(std::string_view key) {
  if (auto valid = ValidateStoreKey(key); !valid) return Fail(valid.error());
  const std::filesystem::path path = root_ / std::string(key);
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) return true;
  if (errno == ENOENT) return false;
  return Fail(ErrnoError("cannot stat", path));
}

// What every write checks first: a valid key and a value within the limit.
Status DirectoryStore::CheckWrite(std::string_view key, ByteView value) const {
  if (auto valid = ValidateStoreKey(key); !valid) return Fail(valid.error());
  if (value.size() > options_.max_value_size) {
    return Fail(ErrorCode::kInvalidArgument, "history value " + std::string(key) + " is " +
                                                 std::to_string(value.size()) + " bytes, the limit is " +
                                                 std::to_string(options_.max_value_size));
  }
  return {};
}

Status DirectoryStore::Set(std::string_view key, ByteView value) {
  if (auto checked = CheckWrite(key, value); !checked) return checked;
  // Under the lock, so that a Set never lands between the read and the rename
  // of a concurrent CompareAndSwap.
  std::lock_guard<std::mutex> guard(write_mutex_);
  auto lock = FileLock::Acquire(root_ / kLockFile);
  if (!lock) return Fail(lock.error());
  return WriteValue(key, value);
}

Result<bool> DirectoryStore::CompareAndSwap(std::string_view key, std::optional<ByteView> expected, ByteView value) {
  if (auto checked = CheckWrite(key, value); !checked) return Fail(checked.error());
  std::lock_guard<std::mutex> guard(write_mutex_);
  auto lock = FileLock::Acquire(root_ / kLockFile);
  if (!lock) return Fail(lock.error());
  auto current = ReadValue(key);
  if (!current) return Fail(current.error());
  const bool matches = expected ? (current->has_value() && std::equal((*current)->begin(), (*current)->end(),
                                                                      expected->begin(), expected->end()))
                                : !current->has_value();
  if (!matches) return false;
  if (auto written = WriteValue(key, value); !written) return Fail(written.error());
  return true;
}

}  // namespace contrast::history
