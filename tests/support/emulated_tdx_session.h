// TDs of the emulated Intel TDX platform, the verifier that pins its root,
// and the mesh API over real gRPC TLS on loopback where a workload attests
// with such a TD: shared by the TDX session tests and the configfs-tsm TDX
// tests. Link contrast_session, contrast_tdx_evidence_verifier and
// contrast_emulated_tdx.
#pragma once

#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "attest/emulated/tdx_platform.h"
#include "attest/tdx/evidence_verifier.h"
#include "common/bytes.h"
#include "contrast/meshapi.grpc.pb.h"
#include "session/credentials.h"
#include "session/nonce.h"
#include "session/protocol.h"

namespace contrast::testing {

template <typename T>
T ValueOrThrow(Result<T> result) {
  if (!result) throw std::runtime_error(result.error().message);
  return std::move(*result);
}

template <size_t N>
std::array<uint8_t, N> Repeated(uint8_t value) {
  std::array<uint8_t, N> out{};
  out.fill(value);
  return out;
}

inline const attest::tdx::PolicyDigest kTdxWorkloadPolicy = Repeated<32>(0x57);
inline const attest::tdx::PolicyDigest kTdxCoordinatorPolicy = Repeated<32>(0xC0);
// The MRTD of every emulated TD here (the reference values expect it).
inline const attest::tdx::Measurement kTdMrTd = Repeated<48>(0x11);

// One emulated TDX platform per process (its PKI is slow to make).
inline const attest::emulated::InsecureEmulatedTdx& EmulatedTdx() {
  static const attest::emulated::InsecureEmulatedTdx platform =
      ValueOrThrow(attest::emulated::InsecureEmulatedTdx::CreateInMemory());
  return platform;
}

// A TD launched with `policy` in MRCONFIGID (zero-padded), as the Kata
// runtime binds it.
inline attest::emulated::TdReportFields TdLaunchedWith(const attest::tdx::PolicyDigest& policy) {
  attest::emulated::TdReportFields td;
  td.mr_td = kTdMrTd;
  std::copy(policy.begin(), policy.end(), td.mr_config_id.begin());
  return td;
}

// Quotes of a TD on the emulated platform, made in-process.
class TdxQuoteIssuer final : public attest::Issuer {
 public:
  explicit TdxQuoteIssuer(const attest::tdx::PolicyDigest& policy) : td_(TdLaunchedWith(policy)) {}
  std::string_view platform() const override { return attest::kPlatformTdx; }
  Result<attest::Evidence> Issue(const attest::ReportData& report_data) override {
    auto quote = EmulatedTdx().Quote(td_, report_data);
    if (!quote) return Fail(quote.error());
    return attest::Evidence{std::string(attest::kPlatformTdx), std::move(*quote), {}, {}, {}};
  }

 private:
  attest::emulated::TdReportFields td_;
};

// Accepts TdLaunchedWith(policy) on the emulated platform.
inline attest::AcceptableReferenceValues AcceptTdx(const attest::tdx::PolicyDigest& policy) {
  attest::tdx::TdxReferenceValues entry;
  entry.mr_td = kTdMrTd;
  entry.mr_seam = EmulatedTdx().mr_seam();
  entry.xfam = attest::emulated::TdReportFields{}.xfam;
  attest::AcceptableReferenceValues rv;
  rv.tdx.push_back(entry);
  rv.allowed_host_data.push_back(policy);
  return rv;
}

// A verifier pinned to the emulated root, with the emulated collateral.
inline std::unique_ptr<attest::tdx::TdxEvidenceVerifier> EmulatedTdxVerifier() {
  auto collateral = ValueOrThrow(EmulatedTdx().Collateral());
  return std::make_unique<attest::tdx::TdxEvidenceVerifier>(
      EmulatedTdx().root(), std::make_shared<attest::tdx::FixedCollateralSource>(std::move(collateral)),
      attest::Verifier::Clock{});
}

// The mesh API as the Coordinator serves it: the client attests as a workload
// and is answered with "<platform> <HOST_DATA hex> <MRTD hex>" of its
// verified evidence.
class TdxMeshService final : public v1::MeshAPI::Service {
 public:
  TdxMeshService(const attest::Verifier& verifier, attest::AcceptableReferenceValues rv, session::NonceTracker& nonces)
      : verifier_(verifier), rv_(std::move(rv)), nonces_(nonces) {}

  grpc::Status NewMeshCert(grpc::ServerContext* context,
                           grpc::ServerReaderWriter<v1::SessionFrame, v1::SessionFrame>* stream) override {
    v1::NewMeshCertRequest request;
    if (auto read = session::ReadMessage(stream, *context, &request); !read) return session::ToGrpcStatus(read.error());
    auto peer = session::AttestPeerOnServer(stream, *context, session::Role::kWorkload, verifier_, rv_, nonces_);
    if (!peer) return session::ToGrpcStatus(peer.error());
    if (peer->tdx() == nullptr) return session::ToGrpcStatus(Error{ErrorCode::kInternal, "no TDX claims"});
    v1::NewMeshCertResponse response;
    response.set_cert_chain(peer->platform() + " " + HexEncode(peer->host_data()) + " " +
                            HexEncode(peer->tdx()->td_report().mr_td));
    if (auto written = session::WriteMessage(stream, *context, response); !written) {
      return session::ToGrpcStatus(written.error());
    }
    return grpc::Status::OK;
  }

 private:
  const attest::Verifier& verifier_;
  attest::AcceptableReferenceValues rv_;
  session::NonceTracker& nonces_;
};

// A session server on 127.0.0.1 (port 0) and a workload client of its mesh API.
class TdxSessionFixture : public ::testing::Test {
 protected:
  void Start(std::vector<grpc::Service*> services) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", ValueOrThrow(session::SessionServerCredentials(server_identity_)), &port_);
    session::ConfigureSessionServer(builder);
    for (grpc::Service* service : services) builder.RegisterService(service);
    server_ = builder.BuildAndStart();
    ASSERT_TRUE(server_ && port_ != 0);
  }
  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  }
  std::string target() const { return "127.0.0.1:" + std::to_string(port_); }

  // One NewMeshCert call whose evidence comes from `issuer`.
  Result<v1::NewMeshCertResponse> NewMeshCert(attest::Issuer& issuer) {
    auto identity = ValueOrThrow(session::SessionIdentity::Generate());
    auto stub = v1::MeshAPI::NewStub(ValueOrThrow(session::CreateSessionChannel(target(), identity)));
    session::ClientSession call([&](grpc::ClientContext* c) { return stub->NewMeshCert(c); });
    if (auto sent = call.Send(v1::NewMeshCertRequest{}); !sent) return Fail(sent.error());
    if (auto attested = call.AttestSelf(session::Role::kWorkload, issuer, identity.spki_der()); !attested) {
      return Fail(attested.error());
    }
    v1::NewMeshCertResponse response;
    if (auto received = call.Receive(&response); !received) return Fail(received.error());
    if (auto finished = call.Finish(); !finished) return Fail(finished.error());
    return response;
  }

  session::SessionIdentity server_identity_ = ValueOrThrow(session::SessionIdentity::Generate());
  session::NonceTracker nonces_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace contrast::testing
