// Challenge nonces of attested sessions: 32 random bytes, single-use, and
// valid for a bounded time (at most 60 seconds).
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <mutex>

#include "common/result.h"
#include "session/binding.h"

namespace contrast::session {

// Issues nonces and accepts each one back exactly once, before it expires.
// Thread-safe.
//
// Memory is bounded by `capacity` outstanding nonces. When that many are
// outstanding (issued, not consumed, not expired), Issue refuses with
// kResourceExhausted: it never forgets an outstanding nonce to make room.
// Forgetting the oldest (what an LRU would do) lets anyone who can open
// sessions flush the nonces of honest sessions that are still attesting, so
// an attacker could fail every honest attestation without ever holding a
// valid one; refusing the newcomer instead keeps every session that already
// has its challenge intact, and the refused one can retry.
//
// The Coordinator never reaches the cap in practice: a server session
// consumes its nonce before AttestPeerOnServer returns, so outstanding
// nonces never exceed the sessions attesting at once, which the admission
// cap on unattested sessions (admission.h, default 768) keeps far below
// kDefaultCapacity. The refusal is the backstop if that ever changes.
class NonceTracker {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  static constexpr std::chrono::seconds kMaxLifetime{60};
  static constexpr size_t kDefaultCapacity = 65536;

  // `lifetime` is capped at kMaxLifetime. `clock` defaults to
  // std::chrono::steady_clock::now (tests pass a fake one).
  explicit NonceTracker(std::chrono::seconds lifetime = kMaxLifetime, Clock clock = {},
                        size_t capacity = kDefaultCapacity);

  // A fresh nonce from the OpenSSL CSPRNG. kResourceExhausted when
  // `capacity` nonces are outstanding; kCrypto if it cannot draw one.
  Result<Nonce> Issue();

  // Accepts `nonce` once: it must have been issued by this tracker, not yet
  // consumed and not older than the lifetime. Forgets it in every case.
  // kTimeout for an expired nonce, kInvalidArgument for an unknown or reused
  // one.
  Status Consume(const Nonce& nonce);

  // Issued, not yet consumed and not yet pruned (expired nonces are pruned
  // lazily).
  size_t outstanding() const;

  std::chrono::seconds lifetime() const { return lifetime_; }

 private:
  using TimePoint = std::chrono::steady_clock::time_point;
  void PruneLocked(TimePoint now);

  std::chrono::seconds lifetime_;
  Clock clock_;
  size_t capacity_;
  mutable std::mutex mutex_;
  std::map<Nonce, TimePoint> issued_;
  std::deque<Nonce> order_;  // issue order; may hold already consumed nonces
};

}  // namespace contrast::session
