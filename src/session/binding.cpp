#include "session/binding.h"

#include "crypto/hash.h"

namespace contrast::session {

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kCoordinator: return "coordinator";
    case Role::kWorkload: return "workload";
  }
  return "invalid";
}

ReportData SessionReportData(Role role, ByteView spki_der, const Nonce& nonce) {
  const std::string_view role_name = RoleName(role);
  Bytes input;
  input.reserve(kSessionBindingLabel.size() + role_name.size() + spki_der.size() + nonce.size());
  const ByteView label = AsBytes(kSessionBindingLabel);
  const ByteView role_bytes = AsBytes(role_name);
  input.insert(input.end(), label.begin(), label.end());
  input.insert(input.end(), role_bytes.begin(), role_bytes.end());
  input.insert(input.end(), spki_der.begin(), spki_der.end());
  input.insert(input.end(), nonce.begin(), nonce.end());
  return crypto::Sha512(input);
}

}  // namespace contrast::session
