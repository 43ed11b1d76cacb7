// The binding of attestation evidence to one TLS connection (DESIGN.md
// section 5).
//
// The attester puts into its SEV-SNP REPORT_DATA (64 bytes):
//
//   SHA-512("contrast-session-v1" || role || SPKI || nonce)
//
// `||` is plain concatenation, no separators and no length prefixes:
//   "contrast-session-v1"  19 ASCII bytes (kSessionBindingLabel)
//   role                   11 ASCII bytes "coordinator" or 8 ASCII bytes
//                          "workload": the attester's role. Only these two
//                          strings exist and neither is a prefix of the
//                          other, so the encoding is unambiguous.
//   SPKI                   DER SubjectPublicKeyInfo of the attester's TLS key
//                          on this connection; DER is self-delimiting.
//   nonce                  the verifier's 32-byte challenge (kNonceSize).
//
// The verifier recomputes it with the SPKI of the certificate the peer
// presented in this connection's TLS handshake and its own nonce.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "attest/evidence.h"
#include "common/bytes.h"

namespace contrast::session {

inline constexpr std::string_view kSessionBindingLabel = "contrast-session-v1";
inline constexpr size_t kNonceSize = 32;

using Nonce = std::array<uint8_t, kNonceSize>;
using ReportData = attest::ReportData;

// Who attests in a session: the Coordinator (to the CLI, on the user API) or a
// workload's Initializer (to the Coordinator, on the mesh API).
enum class Role { kCoordinator, kWorkload };

// "coordinator" or "workload": the bytes that go into the binding.
std::string_view RoleName(Role role);

// SHA-512(kSessionBindingLabel || RoleName(role) || spki_der || nonce).
ReportData SessionReportData(Role role, ByteView spki_der, const Nonce& nonce);

}  // namespace contrast::session
