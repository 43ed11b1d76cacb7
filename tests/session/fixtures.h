// Shared pieces of the session tests: the emulated platform
// (support/emulated_platform.h) and issuers that misbehave on purpose.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "attest/evidence.h"
#include "session/binding.h"
#include "session/nonce.h"
#include "support/emulated_platform.h"

namespace contrast::session::testing {

using attest::Evidence;
using attest::Issuer;
using contrast::testing::AcceptEmulated;
using contrast::testing::EmulatedEntry;
using contrast::testing::Emulator;
using contrast::testing::Filled;
using contrast::testing::IssuerFor;
using contrast::testing::kCoordinatorHostData;
using contrast::testing::kMeasurement;
using contrast::testing::kWorkloadHostData;
using contrast::testing::OtherEmulator;
using contrast::testing::SecureProcessor;

// A steady clock the test moves by hand.
class FakeClock {
 public:
  NonceTracker::Clock AsClock() {
    return [this] { return base_ + std::chrono::seconds(offset_.load()); };
  }
  void Advance(std::chrono::seconds by) { offset_ += by.count(); }

 private:
  std::chrono::steady_clock::time_point base_ = std::chrono::steady_clock::now();
  std::atomic<int64_t> offset_{0};
};

// Issues through `inner`, but first lets the clock run past the nonce lifetime.
class SlowIssuer final : public Issuer {
 public:
  SlowIssuer(Issuer& inner, FakeClock& clock, std::chrono::seconds delay)
      : inner_(inner), clock_(clock), delay_(delay) {}
  std::string_view platform() const override { return inner_.platform(); }
  Result<Evidence> Issue(const ReportData& report_data) override {
    clock_.Advance(delay_);
    return inner_.Issue(report_data);
  }

 private:
  Issuer& inner_;
  FakeClock& clock_;
  std::chrono::seconds delay_;
};

// Remembers what `inner` issued.
class RecordingIssuer final : public Issuer {
 public:
  explicit RecordingIssuer(Issuer& inner) : inner_(inner) {}
  std::string_view platform() const override { return inner_.platform(); }
  Result<Evidence> Issue(const ReportData& report_data) override {
    auto evidence = inner_.Issue(report_data);
    if (evidence) {
      std::lock_guard lock(mutex_);
      last_ = *evidence;
    }
    return evidence;
  }
  std::optional<Evidence> last() const {
    std::lock_guard lock(mutex_);
    return last_;
  }

 private:
  Issuer& inner_;
  mutable std::mutex mutex_;
  std::optional<Evidence> last_;
};

// Always answers with the same evidence, whatever the challenge.
class ReplayIssuer final : public Issuer {
 public:
  explicit ReplayIssuer(Evidence evidence) : evidence_(std::move(evidence)) {}
  std::string_view platform() const override { return evidence_.platform; }
  Result<Evidence> Issue(const ReportData& /*report_data*/) override { return evidence_; }

 private:
  Evidence evidence_;
};

}  // namespace contrast::session::testing
