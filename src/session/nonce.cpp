#include "session/nonce.h"

#include <openssl/rand.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "crypto/openssl.h"

namespace contrast::session {

NonceTracker::NonceTracker(std::chrono::seconds lifetime, Clock clock, size_t capacity)
    : lifetime_(std::min(lifetime, kMaxLifetime)),
      clock_(clock ? std::move(clock) : Clock([] { return std::chrono::steady_clock::now(); })),
      capacity_(std::max<size_t>(capacity, 1)) {}

Result<Nonce> NonceTracker::Issue() {
  Nonce nonce{};
  if (auto ok = crypto::Check(RAND_bytes(nonce.data(), static_cast<int>(nonce.size())), "drawing a nonce"); !ok) {
    return Fail(ok.error());
  }
  const TimePoint now = clock_();
  std::lock_guard lock(mutex_);
  PruneLocked(now);
  // Full: refuse the newcomer rather than forget an honest session's nonce
  // (nonce.h says why).
  if (issued_.size() >= capacity_) {
    return Fail(ErrorCode::kResourceExhausted, "too many sessions are attesting at once (" +
                                                   std::to_string(issued_.size()) +
                                                   " challenges outstanding); retry later");
  }
  issued_.emplace(nonce, now);
  order_.push_back(nonce);
  return nonce;
}

Status NonceTracker::Consume(const Nonce& nonce) {
  const TimePoint now = clock_();
  std::lock_guard lock(mutex_);
  const auto it = issued_.find(nonce);
  if (it == issued_.end()) {
    return Fail(ErrorCode::kInvalidArgument,
                "nonce " + HexEncode(nonce) + ": not issued here, already used, or expired");
  }
  const TimePoint issued_at = it->second;
  issued_.erase(it);
  if (now - issued_at > lifetime_) {
    const auto age = std::chrono::duration_cast<std::chrono::seconds>(now - issued_at);
    return Fail(ErrorCode::kTimeout, "nonce expired: issued " + std::to_string(age.count()) + " s ago, valid for " +
                                         std::to_string(lifetime_.count()) + " s");
  }
  return {};
}

size_t NonceTracker::outstanding() const {
  std::lock_guard lock(mutex_);
  return issued_.size();
}

void NonceTracker::PruneLocked(TimePoint now) {
  while (!order_.empty()) {
    const auto it = issued_.find(order_.front());
    if (it != issued_.end()) {
      if (now - it->second <= lifetime_) break;
      issued_.erase(it);
    }
    order_.pop_front();
  }
  // Consumed nonces behind a long-lived outstanding one stay in order_; keep
  // it proportional to what is actually outstanding.
  if (order_.size() > 2 * capacity_) {
    std::vector<std::pair<TimePoint, Nonce>> live;
    live.reserve(issued_.size());
    for (const auto& [n, at] : issued_) live.emplace_back(at, n);
    std::sort(live.begin(), live.end());
    order_.clear();
    for (const auto& entry : live) order_.push_back(entry.second);
  }
}

}  // namespace contrast::session
