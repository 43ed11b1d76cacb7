// The Coordinator's certificate authority (DESIGN.md section 7).
//
//   root      CN=system:coordinator:root, ECDSA P-384, self-signed, 10 years.
//             Its key is long-lived (later derived from the seed), so third
//             parties who trust the root trust every future manifest.
//   mesh CA   CN=system:coordinator:intermediate, a NEW P-384 key per
//             manifest, in two certificates with the same key and subject:
//               intermediate  signed by the root (leaf -> intermediate -> root)
//               mesh CA       self-signed (workloads trust it directly:
//                             leaf -> mesh CA)
//   leaf      the mesh certificate of a workload: SANs from its manifest
//             entry, EKU serverAuth+clientAuth, the claims of its validated
//             evidence as non-critical extensions, signed by the mesh CA key.
//
// A CertificateAuthority is immutable after construction and safe to share
// between threads: IssueMeshCertificate is const and may run concurrently.
// Rotation (a new manifest) makes a new object; the caller swaps it in.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "crypto/keys.h"
#include "crypto/x509.h"
#include "crypto/x509_builder.h"

namespace contrast::ca {

inline constexpr std::string_view kRootCommonName = "system:coordinator:root";
inline constexpr std::string_view kMeshCaCommonName = "system:coordinator:intermediate";

// The extension carrying a workload's WorkloadSecretID in its mesh
// certificate (upstream OID, value a DER OCTET STRING of the ID's bytes).
inline constexpr std::string_view kWorkloadSecretIdOid = "1.3.9901.3.1";
Result<crypto::Extension> WorkloadSecretIdExtension(std::string_view workload_secret_id);

// Classifies a manifest entry's SANs, in order, the way upstream does:
//   - parses as an IPv4 or IPv6 address (inet_pton)  -> iPAddress
//   - starts with a URI scheme and ':' (RFC 3986 "ALPHA *( ALPHA / DIGIT /
//     "+" / "-" / "." ) ':'", as Go's url.Parse detects one; so
//     "spiffe://acme.com/web" and "urn:x" are URIs, and so is "db:5432",
//     which no DNS name can be)                     -> uniformResourceIdentifier
//   - anything else, including the wildcard "*"      -> dNSName
// kInvalidArgument, naming the index, when the list is empty or a SAN is
// empty or contains anything but printable ASCII without space (NUL, control
// characters, whitespace, non-ASCII).
Result<std::vector<crypto::SubjectAltName>> ClassifySubjectAltNames(std::span<const std::string> sans);

// A leaf as the Initializer writes it.
struct MeshCertificate {
  Bytes der;
  std::string pem;        // the leaf alone
  std::string chain_pem;  // leaf then intermediate (tls-config/certChain.pem)
};

class CertificateAuthority {
 public:
  // A fresh root key and a fresh mesh CA key.
  static Result<CertificateAuthority> Generate();
  // The root certificate for `root_key` (new serial, valid now-1h..+10y) and
  // the mesh CA certificates for `mesh_ca_key`, or for a fresh key when none
  // is given (recovery passes the recovered one). Both keys must be EC P-384.
  static Result<CertificateAuthority> Create(crypto::PrivateKey root_key,
                                             std::optional<crypto::PrivateKey> mesh_ca_key = std::nullopt);

  // A CA exactly as it was: the keys and the certificates (DER) it issued
  // then, as a recovered Coordinator reads them from its sealed state. Each
  // certificate must carry the public half of its key and be signed as the
  // scheme above says (root and mesh CA self-signed, intermediate by the
  // root); kValidationFailed names the one that is not, kParse a malformed
  // certificate.
  static Result<CertificateAuthority> Restore(crypto::PrivateKey root_key, ByteView root_der,
                                              crypto::PrivateKey mesh_ca_key, ByteView intermediate_der,
                                              ByteView mesh_ca_der);

  // The same root (key and certificate) with a fresh mesh CA key, or the
  // given one. Called for every new manifest.
  Result<CertificateAuthority> Rotate(std::optional<crypto::PrivateKey> mesh_ca_key = std::nullopt) const;

  const crypto::Certificate& root() const;
  const crypto::Certificate& intermediate() const;
  const crypto::Certificate& mesh_ca() const;
  // PEM ("BEGIN CERTIFICATE"), as written to disk and returned by the APIs.
  const std::string& root_pem() const;
  const std::string& intermediate_pem() const;
  const std::string& mesh_ca_pem() const;
  // The mesh CA private key, shared with peer Coordinators on recovery.
  const crypto::PrivateKey& mesh_ca_key() const;

  // A mesh certificate for the workload key `subject_public_key` (DER
  // SubjectPublicKeyInfo; EC or RSA >= 2048 or Ed25519) with the manifest
  // entry's `sans` (ClassifySubjectAltNames) and `claims` as extra
  // non-critical extensions. Subject CN = the first DNS SAN (the first SAN
  // when there is none), skipping SANs longer than the 64-character CN limit.
  // Validity now-1h..+1y, random 128-bit serial, AKI = the mesh CA key.
  // Errors: kParse (public key bytes), kUnsupported (key type),
  // kInvalidArgument (SANs; claims that are critical, malformed, duplicated,
  // or in the standard-extension arc 2.5.29).
  Result<MeshCertificate> IssueMeshCertificate(ByteView subject_public_key, std::span<const std::string> sans,
                                               std::span<const crypto::Extension> claims = {}) const;

 private:
  struct Root;
  struct Mesh;
  CertificateAuthority(std::shared_ptr<const Root> root, std::shared_ptr<const Mesh> mesh);
  std::shared_ptr<const Root> root_;
  std::shared_ptr<const Mesh> mesh_;
};

}  // namespace contrast::ca
