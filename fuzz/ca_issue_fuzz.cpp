// Fuzz target: mesh certificate issuance from untrusted input (the workload's
// public key from the RPC, the SANs from the manifest).
//
// Input: 2-byte big-endian length n, n bytes of SubjectPublicKeyInfo DER, then
// the SANs separated by '\n'. Whatever the CA accepts must be a certificate
// that chains to its mesh CA and carries one SAN per input SAN.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "ca/ca.h"

namespace {

const contrast::ca::CertificateAuthority& FuzzCa() {
  static const contrast::ca::CertificateAuthority* ca = [] {
    auto generated = contrast::ca::CertificateAuthority::Generate();
    if (!generated) std::abort();
    return new contrast::ca::CertificateAuthority(std::move(*generated));
  }();
  return *ca;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace contrast;
  if (size < 2) return 0;
  const size_t key_length = (size_t{data[0]} << 8) | data[1];
  if (key_length > size - 2) return 0;
  const ByteView key(data + 2, key_length);
  const std::string rest(reinterpret_cast<const char*>(data + 2 + key_length), size - 2 - key_length);
  std::vector<std::string> sans;
  size_t start = 0;
  while (start <= rest.size() && !rest.empty()) {
    const size_t end = rest.find('\n', start);
    sans.push_back(rest.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }

  const ca::CertificateAuthority& authority = FuzzCa();
  auto issued = authority.IssueMeshCertificate(key, sans);
  if (!issued) return 0;
  auto leaf = crypto::Certificate::ParseDer(issued->der);
  if (!leaf) std::abort();
  const crypto::Certificate& mesh_ca = authority.mesh_ca();
  if (!crypto::VerifyChain(*leaf, {}, std::span(&mesh_ca, 1), Now())) std::abort();
  GENERAL_NAMES* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(leaf->get(), NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr || static_cast<size_t>(sk_GENERAL_NAME_num(names)) != sans.size()) std::abort();
  GENERAL_NAMES_free(names);
  return 0;
}
