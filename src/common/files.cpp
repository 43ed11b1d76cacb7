#include "common/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

namespace contrast {
namespace {

Error ErrnoError(std::string_view what, const std::filesystem::path& path) {
  const int err = errno;
  return Error{err == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIo,
               std::string(what) + " " + path.string() + ": " + std::strerror(err)};
}

// Closes a file descriptor on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

Status WriteAll(int fd, ByteView data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Fail(ErrorCode::kIo, std::string("write: ") + std::strerror(errno));
    }
    done += static_cast<size_t>(n);
  }
  return {};
}

std::string RandomSuffix() {
  std::random_device rd;
  return std::to_string(rd()) + std::to_string(rd());
}

}  // namespace

Result<Bytes> ReadFile(const std::filesystem::path& path, size_t max_size) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return Fail(ErrnoError("cannot open", path));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return Fail(ErrnoError("cannot stat", path));
  if (S_ISDIR(st.st_mode)) return Fail(ErrorCode::kIo, path.string() + " is a directory");
  Bytes out;
  uint8_t buffer[64 * 1024];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Fail(ErrnoError("cannot read", path));
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > max_size) {
      return Fail(ErrorCode::kInvalidArgument,
                  path.string() + " is larger than the limit of " + std::to_string(max_size) + " bytes");
    }
    out.insert(out.end(), buffer, buffer + n);
  }
  return out;
}

Result<std::string> ReadTextFile(const std::filesystem::path& path, size_t max_size) {
  auto bytes = ReadFile(path, max_size);
  if (!bytes) return Fail(bytes.error());
  return std::string(bytes->begin(), bytes->end());
}

Status WriteFileAtomic(const std::filesystem::path& path, ByteView data, unsigned mode) {
  const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : ".";
  const std::filesystem::path tmp = dir / ("." + path.filename().string() + ".tmp-" + RandomSuffix());
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (fd.get() < 0) return Fail(ErrnoError("cannot create", tmp));
  auto cleanup_on_error = [&](Error error) {
    ::unlink(tmp.c_str());
    return Fail(error.Wrap("writing " + path.string()));
  };
  // The umask must not widen or narrow what the caller asked for.
  if (::fchmod(fd.get(), mode) != 0) return cleanup_on_error(ErrnoError("cannot chmod", tmp));
  if (auto written = WriteAll(fd.get(), data); !written) return cleanup_on_error(written.error());
  if (::fsync(fd.get()) != 0) return cleanup_on_error(ErrnoError("cannot fsync", tmp));
  if (::close(fd.release()) != 0) return cleanup_on_error(ErrnoError("cannot close", tmp));
  if (::rename(tmp.c_str(), path.c_str()) != 0) return cleanup_on_error(ErrnoError("cannot rename to", path));
  Fd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.get() >= 0) ::fsync(dir_fd.get());  // best effort: the data is already in place
  return {};
}

Status WriteFileAtomic(const std::filesystem::path& path, std::string_view text, unsigned mode) {
  return WriteFileAtomic(path, AsBytes(text), mode);
}

}  // namespace contrast
