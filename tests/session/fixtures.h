// Shared pieces of the session tests: emulated secure processors, VMs and the
// reference values that accept (or reject) them.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "attest/emulated/secure_processor.h"
#include "attest/snp/reference_values.h"
#include "crypto/hash.h"
#include "session/evidence.h"
#include "session/nonce.h"
#include "session/verifier.h"

namespace contrast::session::testing {

using attest::emulated::SecureProcessor;

template <size_t N>
attest::snp::ByteArray<N> Filled(uint8_t value) {
  attest::snp::ByteArray<N> out;
  out.fill(value);
  return out;
}

inline const attest::emulated::Measurement kMeasurement = Filled<48>(0x4D);
inline const attest::emulated::HostData kWorkloadHostData = Filled<32>(0x57);
inline const attest::emulated::HostData kCoordinatorHostData = Filled<32>(0xC0);

// In-memory emulators with fast RSA-2048 CA keys, created once per process.
inline const SecureProcessor& MakeEmulator(std::optional<SecureProcessor>& slot, std::once_flag& once) {
  std::call_once(once, [&] {
    attest::emulated::SecureProcessorOptions options;
    options.ca_key_type_for_test = crypto::KeyType::kRsa2048;
    auto created = SecureProcessor::CreateInMemory(options);
    if (!created) throw std::runtime_error("emulator: " + created.error().message);
    slot.emplace(std::move(*created));
  });
  return *slot;
}
inline const SecureProcessor& Emulator() {
  static std::optional<SecureProcessor> slot;
  static std::once_flag once;
  return MakeEmulator(slot, once);
}
// Another emulator whose root nobody pins.
inline const SecureProcessor& OtherEmulator() {
  static std::optional<SecureProcessor> slot;
  static std::once_flag once;
  return MakeEmulator(slot, once);
}

inline EmulatedEvidenceIssuer IssuerFor(const attest::emulated::HostData& host_data,
                                        const attest::emulated::Measurement& measurement = kMeasurement,
                                        const SecureProcessor& sp = Emulator()) {
  auto vm = sp.RegisterVm(measurement, host_data);
  if (!vm) throw std::runtime_error("RegisterVm: " + vm.error().message);
  return EmulatedEvidenceIssuer::ForVm(sp, *vm);
}

// An entry that accepts the emulator's VMs with kMeasurement.
inline attest::snp::SnpReferenceValues EmulatedEntry(const SecureProcessor& sp = Emulator()) {
  attest::snp::SnpReferenceValues entry;
  entry.platform = "Emulated-SNP";
  entry.product = sp.product();
  entry.trusted_measurement = kMeasurement;
  entry.minimum_tcb = sp.tcb();
  entry.guest_policy.smt = true;
  entry.platform_info.smt_enabled = true;
  return entry;
}

// Accepts the pinned emulator's VMs with `host_data`.
inline AcceptableReferenceValues AcceptEmulated(const attest::emulated::HostData& host_data,
                                                const SecureProcessor& sp = Emulator()) {
  AcceptableReferenceValues rv;
  rv.emulated.push_back(EmulatedReferenceValues{EmulatedEntry(sp), crypto::Sha256(sp.ark_der())});
  rv.allowed_host_data.push_back(host_data);
  return rv;
}

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
class SlowIssuer final : public EvidenceIssuer {
 public:
  SlowIssuer(EvidenceIssuer& inner, FakeClock& clock, std::chrono::seconds delay)
      : inner_(inner), clock_(clock), delay_(delay) {}
  Result<Evidence> Issue(const ReportData& report_data) override {
    clock_.Advance(delay_);
    return inner_.Issue(report_data);
  }

 private:
  EvidenceIssuer& inner_;
  FakeClock& clock_;
  std::chrono::seconds delay_;
};

// Remembers what `inner` issued.
class RecordingIssuer final : public EvidenceIssuer {
 public:
  explicit RecordingIssuer(EvidenceIssuer& inner) : inner_(inner) {}
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
  EvidenceIssuer& inner_;
  mutable std::mutex mutex_;
  std::optional<Evidence> last_;
};

// Always answers with the same evidence, whatever the challenge.
class ReplayIssuer final : public EvidenceIssuer {
 public:
  explicit ReplayIssuer(Evidence evidence) : evidence_(std::move(evidence)) {}
  Result<Evidence> Issue(const ReportData& /*report_data*/) override { return evidence_; }

 private:
  Evidence evidence_;
};

}  // namespace contrast::session::testing
