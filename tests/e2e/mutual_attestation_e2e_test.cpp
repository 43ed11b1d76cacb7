// End-to-end: the Initializer attests the Coordinator. A fake Coordinator (a
// real contrast-coordinator in an emulated VM, so its evidence is valid, but
// launched with another policy and holding the attacker's own manifest) sits
// on the Initializer's path and is refused, with the mismatch in the
// Initializer's log; then the real Coordinator takes the same address and
// the same Initializer process accepts it and gets its certificate.
#include <nlohmann/json.hpp>

#include "e2e/coordinator_fixture.h"

namespace contrast {
namespace {

using namespace contrast::e2e;
using ::testing::HasSubstr;
using ::testing::Not;

class MutualAttestationE2e : public CoordinatorE2e {
 protected:
  // The manifest an attacker sets on the fake: its own policy as the
  // Coordinator's, and the workloads' policies so that they attest there.
  std::string AttackerManifest() const {
    std::string manifest = Manifest(kMeasurement);
    const std::string real = hashes_.at("coordinator");
    manifest.replace(manifest.find(real), real.size(), hashes_.at("rogue"));
    return manifest;
  }

  // A contrast-coordinator in an emulated VM launched with the rogue policy,
  // on fresh ports (the fixture's, so the real one can take them over).
  void StartFakeCoordinator() {
    user_port_ = testing::FreeLoopbackPort();
    mesh_port_ = testing::FreeLoopbackPort();
    probe_port_ = testing::FreeLoopbackPort();
    fake_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{
            kBin + "/contrast", "emulate", "run", "--socket", socket_.string(), "--policy",
            PolicyPath("rogue").string(), "--measurement", kMeasurement, "--", kBin + "/contrast-coordinator",
            "--state-dir", (dir_ / "fake-state").string(), "--user-api-address", User(), "--mesh-api-address",
            "127.0.0.1:" + std::to_string(mesh_port_), "--probe-address", "127.0.0.1:" + std::to_string(probe_port_)},
        dir_ / "fake-coordinator.log");
    ASSERT_TRUE(fake_->WaitUntil([&] { return Probe("/probe/liveness") == 200; }))
        << "the fake Coordinator did not come up:\n"
        << fake_->Output();
  }

  // What `contrast generate` pins in the Initializer: the real
  // Coordinator's policy digest and the manifest's reference values.
  std::map<std::string, std::string> ExpectedCoordinatorEnvironment() const {
    const nlohmann::json manifest = nlohmann::json::parse(Manifest(kMeasurement));
    return {{"CONTRAST_COORDINATOR_POLICY_HASHES", hashes_.at("coordinator")},
            {"CONTRAST_COORDINATOR_REFERENCE_VALUES", manifest.at("ReferenceValues").dump()}};
  }

  std::unique_ptr<ChildProcess> fake_;
};

TEST_F(MutualAttestationE2e, AFakeCoordinatorIsRefusedAndTheRealOneAccepted) {
  StartFakeCoordinator();
  // The fake is a working Coordinator: `contrast set` with the attacker's
  // manifest attests it, and it would certify the workloads.
  // (From its own workspace, as an attacker would.)
  std::filesystem::create_directories(dir_ / "attacker");
  std::vector<std::string> set_args = {"set",
                                       "-c",
                                       User(),
                                       "-m",
                                       WriteManifest("attacker.json", AttackerManifest()),
                                       "--workspace-dir",
                                       (dir_ / "attacker").string(),
                                       "--timeout",
                                       "20"};
  for (const char* name : {"rogue", "web", "client"}) set_args.push_back(PolicyPath(name).string());
  const Completed set_fake = Contrast(set_args);
  ASSERT_EQ(set_fake.code, 0) << set_fake.output << fake_->Output();

  ChildProcess initializer(InitializerArgs("web", dir_ / "web", "90"), dir_ / "initializer.log",
                           ExpectedCoordinatorEnvironment());
  const std::string mismatch =
      "HOST_DATA: expected one of [" + hashes_.at("coordinator") + "], got " + hashes_.at("rogue");
  ASSERT_TRUE(initializer.WaitUntil([&] { return initializer.Output().find(mismatch) != std::string::npos; }))
      << "the Initializer did not refuse the fake Coordinator:\n"
      << initializer.Output();
  EXPECT_THAT(initializer.Output(), HasSubstr("failed attestation"));
  EXPECT_THAT(initializer.Output(), HasSubstr("retrying in"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "web/tls-config/key.pem"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "web/tls-config/mesh-ca.pem"));
  // The fake did issue (the workload attested to it); the Initializer threw
  // the answer away unread.
  EXPECT_THAT(fake_->Output(), HasSubstr("event=mesh_certificate_issued"));

  // The fake goes away; the real Coordinator comes up at the same address.
  fake_->Stop();
  StartCoordinator(/*keep_ports=*/true);
  const Completed set_real = Set(WriteManifest("manifest.json", Manifest(kMeasurement)));
  ASSERT_EQ(set_real.code, 0) << set_real.output << coordinator_->Output();

  const std::optional<int> code = initializer.Wait(std::chrono::seconds(90));
  ASSERT_TRUE(code.has_value()) << initializer.Output();
  ASSERT_EQ(*code, 0) << initializer.Output();
  EXPECT_THAT(initializer.Output(),
              HasSubstr("received a mesh certificate from the attested Coordinator at 127.0.0.1:" +
                        std::to_string(mesh_port_) + " (policy " + hashes_.at("coordinator") + ")"));
  EXPECT_THAT(initializer.Output(), Not(HasSubstr("NOT attested")));
  // The certificate is the real Coordinator's.
  EXPECT_EQ(Read(dir_ / "web/tls-config/mesh-ca.pem"), Read(dir_ / "mesh-ca.pem"));
  const Completed verified = RunProcess({"/usr/bin/openssl", "verify", "-CAfile", (dir_ / "mesh-ca.pem").string(),
                                         (dir_ / "web/tls-config/certChain.pem").string()},
                                        dir_ / "openssl.log");
  EXPECT_EQ(verified.code, 0) << verified.output;
}

}  // namespace
}  // namespace contrast
