// TLS for attested sessions (DESIGN.md section 5): every endpoint has a fresh
// key pair and a self-signed certificate; TLS checks no chains. Who the peer
// is comes only from the attestation bound to its key (protocol.h).
//
// Server: TlsServerCredentials with the identity from a
// StaticDataCertificateProvider, requiring a client certificate without
// verifying it. Client: TlsCredentials with its own identity, no server
// certificate or host name checks, and a NoOpCertificateVerifier. Each side
// reads the peer's certificate from its auth context (PeerSpkiDer).
//
// TLS version: gRPC 1.51 does not expose a minimum TLS version for these
// credentials; both ends are ours and built on OpenSSL 3, so they negotiate
// TLS 1.3. The binding does not depend on the version: the handshake proves
// possession of the certificate's key in either.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include <grpcpp/channel.h>
#include <grpcpp/security/auth_context.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/support/channel_arguments.h>

#include "common/bytes.h"
#include "crypto/keys.h"

namespace contrast::session {

// Upper bound for one received message (a SessionFrame) on session servers
// and channels. gRPC rejects larger ones with RESOURCE_EXHAUSTED.
inline constexpr int kMaxFrameSize = 4 * 1024 * 1024;

// The name in every session certificate (CN) and the TLS server name
// (SNI) every session client asks for. It identifies nothing: TLS checks no
// names here; a fixed one only keeps gRPC's server-name matching quiet.
inline constexpr std::string_view kSessionServerName = "contrast-session";

// A TLS identity: key pair and self-signed certificate. Copyable.
class SessionIdentity {
 public:
  // A fresh EC P-384 key and a self-signed certificate for it (CN
  // kSessionServerName, valid from an hour ago for ten years).
  static Result<SessionIdentity> Generate();
  // A self-signed certificate for an existing key (e.g. the workload owner's).
  static Result<SessionIdentity> FromKey(const crypto::PrivateKey& key);

  const std::string& certificate_pem() const { return certificate_pem_; }
  // Unencrypted PKCS#8 PEM. Secret.
  const std::string& private_key_pem() const { return private_key_pem_; }
  // DER SubjectPublicKeyInfo of the key: what the session binding covers.
  const Bytes& spki_der() const { return spki_der_; }

 private:
  SessionIdentity() = default;
  std::string certificate_pem_;
  std::string private_key_pem_;
  Bytes spki_der_;
};

// Credentials for a session server / client with `identity`. kInternal if
// gRPC refuses them.
Result<std::shared_ptr<grpc::ServerCredentials>> SessionServerCredentials(const SessionIdentity& identity);
Result<std::shared_ptr<grpc::ChannelCredentials>> SessionChannelCredentials(const SessionIdentity& identity);

// Applies the session limits (kMaxFrameSize for received and sent messages)
// to a server under construction.
void ConfigureSessionServer(grpc::ServerBuilder& builder);
// Channel arguments with the same limits and kSessionServerName as the TLS
// server name.
grpc::ChannelArguments SessionChannelArguments();

// A channel to `target` ("host:port") with SessionChannelCredentials and
// SessionChannelArguments.
Result<std::shared_ptr<grpc::Channel>> CreateSessionChannel(const std::string& target, const SessionIdentity& identity);

// The DER SubjectPublicKeyInfo of the peer certificate in `auth` (property
// "x509_pem_cert"). kCertificateInvalid when the peer presented none, several
// or an unparsable one.
Result<Bytes> PeerSpkiDer(const grpc::AuthContext& auth);
// The DER SubjectPublicKeyInfo of the first certificate in PEM text.
Result<Bytes> SpkiDerFromCertificatePem(std::string_view pem);

}  // namespace contrast::session
