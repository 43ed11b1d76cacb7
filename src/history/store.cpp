#include "history/store.h"

#include <condition_variable>
#include <mutex>
#include <thread>
#include <utility>

namespace contrast::history {
namespace {

class PollingStoreWatch final : public StoreWatch {
 public:
  PollingStoreWatch(Store& store, std::string key, WatchCallbacks callbacks, std::chrono::milliseconds interval)
      : store_(store), key_(std::move(key)), callbacks_(std::move(callbacks)), interval_(interval) {
    thread_ = std::thread([this] { Run(); });
  }
  ~PollingStoreWatch() override {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

 private:
  void Run() {
    std::optional<std::optional<Bytes>> last;  // unset: nothing reported yet
    bool healthy = true;
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      lock.unlock();
      auto value = store_.Get(key_);
      if (!value) {
        if (healthy && callbacks_.on_health) callbacks_.on_health(tl::unexpected(value.error()));
        healthy = false;
        last.reset();  // report the value again once the store answers
      } else {
        if (!healthy && callbacks_.on_health) callbacks_.on_health(Status{});
        healthy = true;
        if (!last || *last != *value) {
          callbacks_.on_value(*value);
          last = std::move(*value);
        }
      }
      lock.lock();
      wake_.wait_for(lock, interval_, [this] { return stopping_; });
    }
  }

  Store& store_;
  const std::string key_;
  const WatchCallbacks callbacks_;
  const std::chrono::milliseconds interval_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace

Result<std::unique_ptr<StoreWatch>> PollingWatch(Store& store, std::string_view key, WatchCallbacks callbacks,
                                                 std::chrono::milliseconds interval) {
  if (auto ok = ValidateStoreKey(key); !ok) return Fail(ok.error());
  if (!callbacks.on_value) return Fail(ErrorCode::kInvalidArgument, "a store watch needs an on_value callback");
  if (interval <= std::chrono::milliseconds::zero())
    return Fail(ErrorCode::kInvalidArgument, "a store watch needs a positive poll interval");
  return std::unique_ptr<StoreWatch>(new PollingStoreWatch(store, std::string(key), std::move(callbacks), interval));
}

Result<std::unique_ptr<StoreWatch>> Store::Watch(std::string_view key, WatchCallbacks callbacks) {
  return PollingWatch(*this, key, std::move(callbacks));
}

}  // namespace contrast::history
