#include "coordinator/state.h"

#include <utility>

namespace contrast::coordinator {

std::shared_ptr<const State> StateGuard::Current() const {
  std::lock_guard lock(mutex_);
  return state_;
}

Result<std::shared_ptr<const State>> StateGuard::Require() const {
  std::lock_guard lock(mutex_);
  if (stale_reason_) return Fail(ErrorCode::kFailedPrecondition, *stale_reason_);
  if (!state_) return Fail(ErrorCode::kFailedPrecondition, std::string(kNoManifestReason));
  if (store_problem_)
    return Fail(ErrorCode::kUnavailable, std::string(kStoreUnavailableReason) + ": " + *store_problem_);
  return state_;
}

bool StateGuard::Publish(const std::shared_ptr<const State>& expected, std::shared_ptr<const State> next) {
  std::lock_guard lock(mutex_);
  if (state_ != expected) return false;
  state_ = std::move(next);
  return true;
}

void StateGuard::MarkStale(std::string reason) {
  std::lock_guard lock(mutex_);
  if (!stale_reason_) stale_reason_ = std::move(reason);
}

void StateGuard::Recovered(std::shared_ptr<const State> state) {
  std::lock_guard lock(mutex_);
  state_ = std::move(state);
  stale_reason_.reset();
}

std::optional<std::string> StateGuard::stale_reason() const {
  std::lock_guard lock(mutex_);
  return stale_reason_;
}

void StateGuard::SetStoreProblem(std::optional<std::string> problem) {
  std::lock_guard lock(mutex_);
  store_problem_ = std::move(problem);
}

Readiness StateGuard::readiness() const {
  std::lock_guard lock(mutex_);
  if (stale_reason_) return {false, *stale_reason_};
  // A store that cannot be read first: without it there may be a manifest
  // this Coordinator does not know of yet.
  if (store_problem_) return {false, std::string(kStoreUnavailableReason) + ": " + *store_problem_};
  if (!state_) return {false, std::string(kNoManifestReason)};
  return {true, ""};
}

}  // namespace contrast::coordinator
