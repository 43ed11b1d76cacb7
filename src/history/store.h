// The key-value backend under the manifest history.
//
// A Store only keeps bytes; it is untrusted. History verifies everything it
// reads back (content hashes, the Coordinator's signature on the latest
// transition), so a backend never has to. What a backend must provide is
// atomic values and a linearizable CompareAndSwap on `transitions/latest`,
// including between processes or replicas that share the backend.
//
// Keys (anything else is rejected with kInvalidArgument):
//   manifests/<64 lower-case hex>    manifest bytes, addressed by SHA-256
//   policies/<64 lower-case hex>     policy documents, addressed by SHA-256
//   transitions/<64 lower-case hex>  64-byte transition records
//   transitions/latest               the signed pointer to the newest transition
//   sealed/<64 lower-case hex>       the Coordinator's sealed state for the
//                                    transition of that hash (seed/sealed.h)
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/result.h"

namespace contrast::history {

inline constexpr std::string_view kLatestKey = "transitions/latest";

// kInvalidArgument unless `key` has one of the shapes above. Backends check
// every key before touching storage (a key becomes a path or an object name).
inline Status ValidateStoreKey(std::string_view key) {
  auto is_hex64 = [](std::string_view name) {
    if (name.size() != 64) return false;
    for (char c : name) {
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
  };
  const size_t slash = key.find('/');
  if (slash != std::string_view::npos) {
    const std::string_view prefix = key.substr(0, slash);
    const std::string_view name = key.substr(slash + 1);
    if ((prefix == "manifests" || prefix == "policies" || prefix == "transitions" || prefix == "sealed") &&
        is_hex64(name)) {
      return {};
    }
    if (key == kLatestKey) return {};
  }
  std::string shown(key.substr(0, 100));
  for (char& c : shown) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
  }
  return Fail(ErrorCode::kInvalidArgument,
              "store key \"" + shown +
                  "\" is invalid: expected manifests|policies|transitions|sealed/<64 lower-case hex> or "
                  "transitions/latest");
}

// What a watch reports, from one thread of its own, one call at a time.
struct WatchCallbacks {
  // The key's value (nullopt: absent): once when the watch starts, again
  // whenever the watch has (re)connected, and after every change. Changes may
  // be coalesced: a watcher sees the newest value, not every one.
  std::function<void(const std::optional<Bytes>& value)> on_value;
  // Whether the watch currently sees the store: an error when it lost the
  // backend (it keeps retrying), ok once it sees it again (on_value follows
  // with the value then). Optional.
  std::function<void(const Status& health)> on_health;
};

// A running watch; destroying it stops it, and no callback runs once the
// destructor has returned.
class StoreWatch {
 public:
  virtual ~StoreWatch() = default;
};

// How often the default Watch reads the key.
inline constexpr std::chrono::milliseconds kDefaultWatchPollInterval{250};

class Store {
 public:
  virtual ~Store() = default;

  // The value, or nullopt when the key is absent.
  virtual Result<std::optional<Bytes>> Get(std::string_view key) = 0;
  virtual Result<bool> Has(std::string_view key) = 0;
  // Replaces the value atomically: readers see the old or the new value.
  virtual Status Set(std::string_view key, ByteView value) = 0;
  // Sets `key` to `value` only if its current value equals `expected`
  // (nullopt: the key must be absent). True when swapped, false when the
  // current value differed (nothing was written). Atomic with respect to every
  // other Set/CompareAndSwap on the same backend, in any process.
  virtual Result<bool> CompareAndSwap(std::string_view key, std::optional<ByteView> expected, ByteView value) = 0;
  // Follows `key` (WatchCallbacks). The default reads it every
  // kDefaultWatchPollInterval (enough for a directory, which one process
  // uses); a distributed backend overrides it with its own notifications.
  // kInvalidArgument for an invalid key or a callbacks without on_value.
  virtual Result<std::unique_ptr<StoreWatch>> Watch(std::string_view key, WatchCallbacks callbacks);
};

// The default Watch, for any store: polls `key` every `interval`.
Result<std::unique_ptr<StoreWatch>> PollingWatch(Store& store, std::string_view key, WatchCallbacks callbacks,
                                                 std::chrono::milliseconds interval = kDefaultWatchPollInterval);

}  // namespace contrast::history
