// A history::Store in memory, for histories too long to build on disk
// quickly, for a Coordinator whose store a test fills in bulk
// (CoordinatorOptions::store), and for fuzz targets. Thread-safe; copyable
// (a run can start from a copy of a store set up once) and readable as a
// whole (a run can check that nothing was written).
#pragma once

#include <algorithm>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/result.h"
#include "history/store.h"

namespace contrast::testing {

class MemoryStore final : public history::Store {
 public:
  MemoryStore() = default;
  MemoryStore(const MemoryStore& other) : values_(other.values()) {}
  MemoryStore& operator=(const MemoryStore& other) {
    if (this != &other) {
      auto copy = other.values();
      std::lock_guard lock(mutex_);
      values_ = std::move(copy);
    }
    return *this;
  }

  Result<std::optional<Bytes>> Get(std::string_view key) override {
    if (auto ok = history::ValidateStoreKey(key); !ok) return Fail(ok.error());
    std::lock_guard lock(mutex_);
    auto it = values_.find(std::string(key));
    if (it == values_.end()) return std::optional<Bytes>();
    return std::optional<Bytes>(it->second);
  }
  Result<bool> Has(std::string_view key) override {
    if (auto ok = history::ValidateStoreKey(key); !ok) return Fail(ok.error());
    std::lock_guard lock(mutex_);
    return values_.count(std::string(key)) != 0;
  }
  Status Set(std::string_view key, ByteView value) override {
    if (auto ok = history::ValidateStoreKey(key); !ok) return Fail(ok.error());
    std::lock_guard lock(mutex_);
    values_[std::string(key)] = Bytes(value.begin(), value.end());
    return {};
  }
  Result<bool> CompareAndSwap(std::string_view key, std::optional<ByteView> expected, ByteView value) override {
    if (auto ok = history::ValidateStoreKey(key); !ok) return Fail(ok.error());
    std::lock_guard lock(mutex_);
    auto it = values_.find(std::string(key));
    const bool matches = expected ? it != values_.end() && std::equal(it->second.begin(), it->second.end(),
                                                                      expected->begin(), expected->end())
                                  : it == values_.end();
    if (matches) values_[std::string(key)] = Bytes(value.begin(), value.end());
    return matches;
  }

  std::map<std::string, Bytes> values() const {
    std::lock_guard lock(mutex_);
    return values_;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, Bytes> values_;
};

}  // namespace contrast::testing
