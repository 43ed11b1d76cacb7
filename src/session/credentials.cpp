#include "session/credentials.h"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <openssl/rand.h>

#include <chrono>
#include <vector>

#include "common/time.h"
#include "crypto/openssl.h"
#include "crypto/x509.h"
#include "crypto/x509_builder.h"

namespace contrast::session {
namespace {

using grpc::experimental::IdentityKeyCertPair;
using grpc::experimental::StaticDataCertificateProvider;

constexpr auto kValidityBefore = std::chrono::hours(1);
constexpr auto kValidityAfter = std::chrono::hours(24 * 3650);

std::shared_ptr<StaticDataCertificateProvider> ProviderFor(const SessionIdentity& identity) {
  const std::vector<IdentityKeyCertPair> pairs{
      IdentityKeyCertPair{identity.private_key_pem(), identity.certificate_pem()}};
  return std::make_shared<StaticDataCertificateProvider>(pairs);
}

Result<Bytes> SpkiDer(EVP_PKEY* key) {
  if (key == nullptr) return Fail(ErrorCode::kCertificateInvalid, "certificate has no usable public key");
  unsigned char* der = nullptr;
  const int length = i2d_PUBKEY(key, &der);
  if (length <= 0) return Fail(crypto::OpensslError(ErrorCode::kCrypto, "encoding the public key"));
  crypto::OpensslBytesPtr owned(der);
  return Bytes(der, der + length);
}

}  // namespace

Result<SessionIdentity> SessionIdentity::Generate() {
  auto key = crypto::PrivateKey::Generate(crypto::KeyType::kEcP384);
  if (!key) return Fail(key.error().Wrap("generating the session key"));
  return FromKey(*key);
}

Result<SessionIdentity> SessionIdentity::FromKey(const crypto::PrivateKey& key) {
  Bytes serial(16);
  if (auto ok = crypto::Check(RAND_bytes(serial.data(), static_cast<int>(serial.size())), "drawing a serial number");
      !ok) {
    return Fail(ok.error());
  }
  serial[0] = static_cast<uint8_t>((serial[0] & 0x7F) | 0x01);  // positive and 16 bytes long
  const crypto::DistinguishedName name{{"CN", std::string(kSessionServerName)}};
  const TimePoint now = Now();
  crypto::CertificateBuilder builder;
  builder.SetSubject(name)
      .SetIssuer(name)
      .SetSerial(std::move(serial))
      .SetValidity(now - kValidityBefore, now + kValidityAfter)
      .SetPublicKey(key)
      .AddBasicConstraints(false)
      .AddKeyUsage(crypto::kKeyUsageDigitalSignature);
  auto der = builder.SignDer(key);
  if (!der) return Fail(der.error().Wrap("signing the session certificate"));

  SessionIdentity identity;
  auto cert_pem = crypto::CertificatePemFromDer(*der);
  if (!cert_pem) return Fail(cert_pem.error());
  auto key_pem = key.ToPkcs8Pem();
  if (!key_pem) return Fail(key_pem.error());
  auto spki = key.PublicKeyDer();
  if (!spki) return Fail(spki.error());
  identity.certificate_pem_ = std::move(*cert_pem);
  identity.private_key_pem_ = std::move(*key_pem);
  identity.spki_der_ = std::move(*spki);
  return identity;
}

Result<std::shared_ptr<grpc::ServerCredentials>> SessionServerCredentials(const SessionIdentity& identity) {
  grpc::experimental::TlsServerCredentialsOptions options(ProviderFor(identity));
  options.watch_identity_key_cert_pairs();
  options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_BUT_DONT_VERIFY);
  auto credentials = grpc::experimental::TlsServerCredentials(options);
  if (!credentials) return Fail(ErrorCode::kInternal, "gRPC refused the session server credentials");
  return credentials;
}

Result<std::shared_ptr<grpc::ChannelCredentials>> SessionChannelCredentials(const SessionIdentity& identity) {
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(ProviderFor(identity));
  options.watch_identity_key_cert_pairs();
  options.set_verify_server_certs(false);
  options.set_check_call_host(false);
  options.set_certificate_verifier(std::make_shared<grpc::experimental::NoOpCertificateVerifier>());
  auto credentials = grpc::experimental::TlsCredentials(options);
  if (!credentials) return Fail(ErrorCode::kInternal, "gRPC refused the session channel credentials");
  return credentials;
}

void ConfigureSessionServer(grpc::ServerBuilder& builder) {
  builder.SetMaxReceiveMessageSize(kMaxFrameSize);
  builder.SetMaxSendMessageSize(kMaxFrameSize);
}

grpc::ChannelArguments SessionChannelArguments() {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxFrameSize);
  args.SetMaxSendMessageSize(kMaxFrameSize);
  args.SetSslTargetNameOverride(std::string(kSessionServerName));
  return args;
}

Result<std::shared_ptr<grpc::Channel>> CreateSessionChannel(const std::string& target,
                                                            const SessionIdentity& identity) {
  auto credentials = SessionChannelCredentials(identity);
  if (!credentials) return Fail(credentials.error());
  auto channel = grpc::CreateCustomChannel(target, *credentials, SessionChannelArguments());
  if (!channel) return Fail(ErrorCode::kInternal, "gRPC refused to create a channel to " + target);
  return channel;
}

Result<Bytes> PeerSpkiDer(const grpc::AuthContext& auth) {
  const std::vector<grpc::string_ref> certs = auth.FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
  if (certs.empty()) return Fail(ErrorCode::kCertificateInvalid, "the peer presented no TLS certificate");
  if (certs.size() != 1) {
    return Fail(ErrorCode::kCertificateInvalid,
                "expected one peer TLS certificate, got " + std::to_string(certs.size()));
  }
  auto spki = SpkiDerFromCertificatePem(std::string_view(certs[0].data(), certs[0].size()));
  if (!spki) return Fail(spki.error().Wrap("peer TLS certificate"));
  return spki;
}

Result<Bytes> SpkiDerFromCertificatePem(std::string_view pem) {
  auto cert = crypto::Certificate::ParsePem(pem);
  if (!cert) return Fail(cert.error());
  return SpkiDer(cert->PublicKey());
}

}  // namespace contrast::session
