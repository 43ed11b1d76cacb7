// The embedded default history backend: one file per key below a directory.
//
// Layout: <root>/<key> (so <root>/manifests/<hex>, <root>/transitions/latest,
// ...) plus <root>/.lock, the lock file that serialises writers. Values are
// written with WriteFileAtomic (temporary file, fsync, rename).
//
// Writes are serialised twice: a mutex for threads of this process and an
// exclusive flock(2) on <root>/.lock, opened afresh for every write (a lock
// held on a descriptor inherited across fork() would not exclude the other
// process), for other processes on the same directory. CompareAndSwap reads,
// compares and renames under both.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <mutex>
#include <utility>

#include "history/store.h"

namespace contrast::history {

struct DirectoryStoreOptions {
  // Values above this are refused on Set and on Get (a planted huge file is
  // not slurped). Policies are the largest values (Rego text, tens of KiB).
  size_t max_value_size = 16 * 1024 * 1024;
};

class DirectoryStore final : public Store {
 public:
  // Creates `root` and its subdirectories (mode 0700) when missing.
  static Result<std::shared_ptr<DirectoryStore>> Open(const std::filesystem::path& root,
                                                      DirectoryStoreOptions options = {});

  Result<std::optional<Bytes>> Get(std::string_view key) override;
  Result<bool> Has(std::string_view key) override;
  Status Set(std::string_view key, ByteView value) override;
  Result<bool> CompareAndSwap(std::string_view key, std::optional<ByteView> expected, ByteView value) override;

  const std::filesystem::path& root() const { return root_; }

 private:
  DirectoryStore(std::filesystem::path root, DirectoryStoreOptions options)
      : root_(std::move(root)), options_(options) {}
  Result<std::optional<Bytes>> ReadValue(std::string_view key) const;
  Status WriteValue(std::string_view key, ByteView value) const;
  Status CheckWrite(std::string_view key, ByteView value) const;

  std::filesystem::path root_;
  DirectoryStoreOptions options_;
  std::mutex write_mutex_;
};

}  // namespace contrast::history
