// What `set`, `verify` and `recover` share: the local manifest they attest
// the Coordinator against, and the attested user-API call itself.
// CLI-internal (not a public API of contrast_cli).
#pragma once

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "attest/collateral_flags.h"
#include "attest/evidence_verifier.h"
#include "attestation_policy/reference_values.h"
#include "common/bytes.h"
#include "common/result.h"
#include "contrast/userapi.grpc.pb.h"
#include "manifest/manifest.h"
#include "session/credentials.h"
#include "session/protocol.h"

namespace contrast::cli {

struct LocalManifest {
  Bytes bytes;
  manifest::Manifest parsed;
};

// Reads and validates the manifest; prints every problem on `err`.
std::optional<LocalManifest> LoadManifest(const std::filesystem::path& path, std::ostream& err);

// What the Coordinator's attestation showed.
struct Attested {
  std::string platform;
  bool insecure = false;
  std::string policy_hash;
  std::string measurement;
};

void PrintAttested(std::ostream& out, const std::string& target, const Attested& attested);

// "error: <message>" on `err`; the exit code kExitFailed / kExitUsage.
int Failed(std::ostream& err, const Error& error);
int Usage(std::ostream& err, const Error& error);

// Where set, verify and recover cache the collateral they fetch to verify the
// Coordinator (VCEKs, CRLs, TDX collateral): $XDG_CACHE_HOME/contrast, else
// ~/.cache/contrast (per user, shared by every workspace: collateral is
// public and the same for all); empty (memory only) when neither variable
// is set.
std::filesystem::path DefaultCollateralCacheDir();
inline constexpr const char* kCollateralCacheDefault = "$XDG_CACHE_HOME/contrast, else ~/.cache/contrast";

// The verifier options of a command's collateral flags (kInvalidArgument for
// malformed ones).
Result<attest::EvidenceVerifierOptions> CommandVerifierOptions(const attest::CollateralFlags& flags);

// Connects to the Coordinator and makes attested user-API calls, retrying
// while it is unavailable. Every call attests the Coordinator on its own
// stream before sending anything.
class CoordinatorClient {
 public:
  CoordinatorClient(std::string target, const manifest::Manifest& manifest, std::chrono::seconds timeout,
                    const attest::EvidenceVerifierOptions& verifier_options, std::ostream& out)
      : target_(std::move(target)),
        reference_values_(attestation_policy::CoordinatorReferenceValues(manifest)),
        verifier_(verifier_options),
        deadline_(std::chrono::steady_clock::now() + timeout),
        out_(out) {}

  // `start` opens the RPC's stream on a stub; `request` is sent once the
  // Coordinator is attested.
  template <typename Request, typename Response, typename Start>
  Result<Attested> Call(Start start, const Request& request, Response* response) {
    return CallBuilt(
        start, [&](session::ClientSession&) -> Result<const google::protobuf::MessageLite*> { return &request; },
        response);
  }

  // As Call, and `follow_ups` are sent after the request, each in its own
  // frame (a request too large for one frame, such as SetManifest's policy
  // documents).
  template <typename Request, typename Response, typename Start>
  Result<Attested> CallWithFollowUps(Start start, const Request& request,
                                     const std::vector<const google::protobuf::MessageLite*>& follow_ups,
                                     Response* response) {
    return CallBuilt(
        start, [&](session::ClientSession&) -> Result<const google::protobuf::MessageLite*> { return &request; },
        response, follow_ups);
  }

  // As Call, but the request is made after the attestation, on the attested
  // call: `build(call)` returns Result<const MessageLite*>, a request the
  // caller owns (and may wipe afterwards). For requests bound to this
  // connection, such as a signature over the Coordinator's session key.
  template <typename Build, typename Response, typename Start>
  Result<Attested> CallBuilt(Start start, Build build, Response* response,
                             const std::vector<const google::protobuf::MessageLite*>& follow_ups = {}) {
    auto backoff = std::chrono::milliseconds(500);
    for (;;) {
      auto attested = CallOnce(start, build, response, follow_ups);
      if (attested || !Retryable(attested.error()) || std::chrono::steady_clock::now() + backoff > deadline_) {
        return attested;
      }
      out_ << "waiting for the Coordinator at " << target_ << " (" << attested.error().message << ")\n";
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
    }
  }

  const std::string& target() const { return target_; }

 private:
  // Transport failures, and a Coordinator that cannot reach its history
  // store right now (an HA replica cut off from etcd).
  static bool Retryable(const Error& error) {
    return error.code == ErrorCode::kNetwork || error.code == ErrorCode::kTimeout ||
           error.code == ErrorCode::kUnavailable;
  }

  template <typename Build, typename Response, typename Start>
  Result<Attested> CallOnce(Start start, Build& build, Response* response,
                            const std::vector<const google::protobuf::MessageLite*>& follow_ups) {
    auto identity = session::SessionIdentity::Generate();
    if (!identity) return Fail(identity.error());
    auto channel = session::CreateSessionChannel(target_, *identity);
    if (!channel) return Fail(channel.error());
    v1::UserAPI::Stub stub(*channel);
    session::ClientSession call([&](grpc::ClientContext* context) { return start(stub, context); });
    auto coordinator = call.AttestPeer(session::Role::kCoordinator, verifier_, reference_values_, nonces_);
    if (!coordinator) return Fail(coordinator.error().Wrap("attesting the Coordinator"));
    auto request = build(call);
    if (!request) return Fail(request.error());
    if (auto sent = call.Send(**request); !sent) return Fail(sent.error());
    for (const google::protobuf::MessageLite* follow_up : follow_ups) {
      if (auto sent = call.Send(*follow_up); !sent) return Fail(sent.error());
    }
    if (auto received = call.Receive(response); !received) return Fail(received.error());
    if (auto finished = call.Finish(); !finished) return Fail(finished.error());
    // The launch measurement: SNP MEASUREMENT (other platforms: not shown yet).
    const attest::snp::VerifiedReport* snp = coordinator->snp();
    return Attested{coordinator->platform(), coordinator->insecure(), HexEncode(coordinator->host_data()),
                    snp != nullptr ? HexEncode(snp->report().measurement) : std::string()};
  }

  std::string target_;
  attest::AcceptableReferenceValues reference_values_;
  attest::EvidenceVerifier verifier_;
  session::NonceTracker nonces_;
  std::chrono::steady_clock::time_point deadline_;
  std::ostream& out_;
};

inline auto StartSetManifest = [](v1::UserAPI::Stub& stub, grpc::ClientContext* context) {
  return stub.SetManifest(context);
};
inline auto StartGetLatestTransition = [](v1::UserAPI::Stub& stub, grpc::ClientContext* context) {
  return stub.GetLatestTransition(context);
};
inline auto StartGetManifests = [](v1::UserAPI::Stub& stub, grpc::ClientContext* context) {
  return stub.GetManifests(context);
};
inline auto StartGetPolicies = [](v1::UserAPI::Stub& stub, grpc::ClientContext* context) {
  return stub.GetPolicies(context);
};
inline auto StartRecover = [](v1::UserAPI::Stub& stub, grpc::ClientContext* context) { return stub.Recover(context); };

}  // namespace contrast::cli
