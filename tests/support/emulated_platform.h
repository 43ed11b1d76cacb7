// In-process emulated secure processors, VMs and the reference values that
// accept (or reject) them: shared by the attest and session tests. Link
// contrast_emulated_issuer and contrast_attest_verifier.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <stdexcept>

#include "attest/emulated/issuer.h"
#include "attest/emulated/reference_values.h"
#include "attest/emulated/secure_processor.h"
#include "attest/snp/reference_values.h"
#include "attest/verifier.h"
#include "crypto/hash.h"

namespace contrast::testing {

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

inline attest::emulated::InsecureEmulatedIssuer IssuerFor(
    const attest::emulated::HostData& host_data, const attest::emulated::Measurement& measurement = kMeasurement,
    const SecureProcessor& sp = Emulator()) {
  auto vm = sp.RegisterVm(measurement, host_data);
  if (!vm) throw std::runtime_error("RegisterVm: " + vm.error().message);
  return attest::emulated::InsecureEmulatedIssuer::ForVm(sp, *vm);
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
  // The emulator publishes no CRL (`contrast generate` writes this for
  // emulated entries too).
  entry.allow_missing_revocation_check = true;
  return entry;
}

// Accepts the pinned emulator's VMs with `host_data`.
inline attest::AcceptableReferenceValues AcceptEmulated(const attest::emulated::HostData& host_data,
                                                        const SecureProcessor& sp = Emulator()) {
  attest::AcceptableReferenceValues rv;
  rv.emulated.push_back(
      attest::emulated::InsecureEmulatedReferenceValues{EmulatedEntry(sp), crypto::Sha256(sp.ark_der())});
  rv.allowed_host_data.push_back(host_data);
  return rv;
}

}  // namespace contrast::testing
