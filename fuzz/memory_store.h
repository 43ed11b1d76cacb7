// An in-memory history::Store for fuzz targets: single-threaded, copyable (a
// run can start from a copy of a store set up once) and comparable (a run can
// check that nothing was written).
#pragma once

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/result.h"
#include "history/store.h"

namespace contrast::fuzz {

class MemoryStore final : public history::Store {
 public:
  Result<std::optional<Bytes>> Get(std::string_view key) override {
    if (auto ok = history::ValidateStoreKey(key); !ok) return Fail(ok.error());
    auto it = values_.find(std::string(key));
    if (it == values_.end()) return std::optional<Bytes>();
    return std::optional<Bytes>(it->second);
  }
  Result<bool> Has(std::string_view key) override {
    if (auto ok = history::ValidateStoreKey(key); !ok) return Fail(ok.error());
    return values_.count(std::string(key)) != 0;
  }
  Status Set(std::string_view key, ByteView value) override {
    if (auto ok = history::ValidateStoreKey(key); !ok) return Fail(ok.error());
    values_[std::string(key)] = Bytes(value.begin(), value.end());
    return {};
  }
  Result<bool> CompareAndSwap(std::string_view key, std::optional<ByteView> expected, ByteView value) override {
    if (auto ok = history::ValidateStoreKey(key); !ok) return Fail(ok.error());
    auto it = values_.find(std::string(key));
    const bool matches = expected ? it != values_.end() && std::equal(it->second.begin(), it->second.end(),
                                                                      expected->begin(), expected->end())
                                  : it == values_.end();
    if (matches) values_[std::string(key)] = Bytes(value.begin(), value.end());
    return matches;
  }

  const std::map<std::string, Bytes>& values() const { return values_; }

 private:
  std::map<std::string, Bytes> values_;
};

}  // namespace contrast::fuzz
