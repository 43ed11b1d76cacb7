// End-to-end: a Coordinator process killed with SIGKILL comes back through
// `contrast recover` with everything it had (issue #14), and the real
// `openssl` binary agrees with our seed shares, HKDF and root key.
#include <sys/stat.h>

#include <chrono>
#include <map>

#include "e2e/coordinator_fixture.h"
#include "seed/engine.h"
#include "seed/shares.h"

namespace contrast {
namespace {

using namespace contrast::e2e;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kOpenssl = "/usr/bin/openssl";

std::map<std::string, std::string> FilesBelow(const std::filesystem::path& root) {
  std::map<std::string, std::string> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    if (entry.is_regular_file()) files[entry.path().lexically_relative(root).string()] = Read(entry.path());
  }
  return files;
}

unsigned Mode(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

// The DER SubjectPublicKeyInfo of the first certificate in a PEM file, as
// the openssl binary extracts it.
std::string OpensslCertificatePublicKey(const std::filesystem::path& pem, const std::filesystem::path& work) {
  const Completed x509 = RunProcess(
      {kOpenssl, "x509", "-in", pem.string(), "-pubkey", "-noout", "-out", (work / "pub.pem").string()}, work / "x");
  EXPECT_EQ(x509.code, 0) << x509.output;
  const Completed der = RunProcess({kOpenssl, "pkey", "-pubin", "-in", (work / "pub.pem").string(), "-outform", "DER",
                                    "-out", (work / "pub.der").string()},
                                   work / "p");
  EXPECT_EQ(der.code, 0) << der.output;
  return Read(work / "pub.der");
}

class RecoveryE2e : public CoordinatorE2e {
 protected:
  void SetUp() override {
    CoordinatorE2e::SetUp();
    if (HasFatalFailure()) return;
    // RSA-2048 keeps the test fast; `generate` makes RSA-4096 ones.
    for (const char* name : {"seedshare-owner.pem", "other-owner.pem"}) {
      auto key = crypto::PrivateKey::Generate(crypto::KeyType::kRsa2048);
      ASSERT_TRUE(key);
      ASSERT_TRUE(WriteFileAtomic(dir_ / name, *key->ToPkcs8Pem(), 0600));
      if (std::string(name) == "seedshare-owner.pem") {
        seedshare_owner_keys_.push_back(HexEncode(*seed::RsaPublicKeyPkcs1Der(*key)));
      }
    }
    workload_secret_ids_ = {{"web", "web-disk"}, {"client", "client-db"}};
  }

  Completed Recover(const std::string& manifest, const std::string& key, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"recover",
                                     "-c",
                                     User(),
                                     "-m",
                                     manifest,
                                     "--seedshare-owner-key",
                                     (dir_ / key).string(),
                                     "--seed",
                                     (dir_ / "seed-shares.json").string(),
                                     "--workspace-dir",
                                     dir_.string(),
                                     "--timeout",
                                     "20"};
    args.insert(args.end(), extra.begin(), extra.end());
    return Contrast(args);
  }

  Completed Verify(const std::string& manifest) {
    return Contrast({"verify", "-c", User(), "-m", manifest, "--workspace-dir", dir_.string(), "--timeout", "20"});
  }

  // The leaf of an Initializer's chain alone (openssl verify checks the first
  // certificate of a file).
  std::filesystem::path Leaf(const std::filesystem::path& root) {
    const std::string chain = Read(root / "tls-config/certChain.pem");
    const std::string end = "-----END CERTIFICATE-----\n";
    const std::filesystem::path leaf = root / "leaf.pem";
    EXPECT_TRUE(WriteFileAtomic(leaf, chain.substr(0, chain.find(end) + end.size())));
    return leaf;
  }
};

TEST_F(RecoveryE2e, KilledCoordinatorComesBackWithTheSameCaSecretsAndHistory) {
  StartCoordinator();
  const std::string manifest = WriteManifest("manifest.json", Manifest(kMeasurement));
  const Completed set = Set(manifest);
  ASSERT_EQ(set.code, 0) << set.output;
  ASSERT_TRUE(std::filesystem::exists(dir_ / "seed-shares.json")) << set.output;
  EXPECT_EQ(Mode(dir_ / "seed-shares.json"), 0600u);

  // Two workloads: certificates and workload secrets.
  ASSERT_EQ(Initialize("web", dir_ / "web").code, 0);
  ASSERT_EQ(Initialize("client", dir_ / "client").code, 0);
  const std::string web_secret = Read(dir_ / "web/secrets/workload-secret-seed");
  const std::string client_secret = Read(dir_ / "client/secrets/workload-secret-seed");
  EXPECT_EQ(web_secret.size(), 128u);
  EXPECT_EQ(Mode(dir_ / "web/secrets/workload-secret-seed"), 0400u);
  EXPECT_NE(web_secret, client_secret);
  const Completed verified = Verify(manifest);
  ASSERT_EQ(verified.code, 0) << verified.output;
  const auto verify_before = FilesBelow(dir_ / "verify");
  ASSERT_TRUE(verify_before.count("latest-transition")) << verified.output;
  const std::string root_key_before = OpensslCertificatePublicKey(dir_ / "coordinator-root-ca.pem", dir_);

  // A crash: SIGKILL, no shutdown.
  EXPECT_EQ(coordinator_->Kill(), 128 + 9);
  StartCoordinator();
  EXPECT_EQ(Probe("/probe/readiness"), 503);
  EXPECT_THAT(Metrics(), HasSubstr("contrast_awaiting_recovery 1"));
  const Completed refused = Initialize("web", dir_ / "web-during", "3s");
  EXPECT_NE(refused.code, 0);
  EXPECT_THAT(refused.output, HasSubstr("awaiting recovery"));
  // The history stays public while the Coordinator waits.
  const Completed audited = Verify(manifest);
  EXPECT_EQ(audited.code, 0) << audited.output;
  EXPECT_THAT(audited.output, HasSubstr("recover"));

  // Another RSA key holds no share.
  const Completed wrong = Recover(manifest, "other-owner.pem");
  EXPECT_NE(wrong.code, 0);
  EXPECT_THAT(wrong.output, HasSubstr("share"));
  EXPECT_EQ(Probe("/probe/readiness"), 503);

  const auto started = std::chrono::steady_clock::now();
  const Completed recovered = Recover(manifest, "seedshare-owner.pem");
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_EQ(recovered.code, 0) << recovered.output << coordinator_->Output();
  // Recover returns once the Coordinator serves again: no waiting needed.
  EXPECT_EQ(Probe("/probe/readiness"), 200);
  std::cout << "recover (CLI process, attestation, recovery) took "
            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms\n";
  EXPECT_THAT(Metrics(), HasSubstr("contrast_awaiting_recovery 0"));

  // Same root key, same mesh CA, same history: verify writes the same files.
  EXPECT_EQ(OpensslCertificatePublicKey(dir_ / "coordinator-root-ca.pem", dir_), root_key_before);
  const Completed again = Verify(manifest);
  ASSERT_EQ(again.code, 0) << again.output;
  EXPECT_EQ(FilesBelow(dir_ / "verify"), verify_before);
  // Certificates issued before the crash verify against the mesh CA now.
  for (const char* workload : {"web", "client"}) {
    const Completed check = RunProcess(
        {kOpenssl, "verify", "-CAfile", (dir_ / "verify/mesh-ca.pem").string(), Leaf(dir_ / workload).string()},
        dir_ / "openssl-verify.log");
    EXPECT_EQ(check.code, 0) << workload << ": " << check.output;
  }
  // New workloads get certificates, and the same secrets.
  ASSERT_EQ(Initialize("web", dir_ / "web-after").code, 0);
  ASSERT_EQ(Initialize("client", dir_ / "client-after").code, 0);
  EXPECT_EQ(Read(dir_ / "web-after/secrets/workload-secret-seed"), web_secret);
  EXPECT_EQ(Read(dir_ / "client-after/secrets/workload-secret-seed"), client_secret);
  EXPECT_EQ(Read(dir_ / "web-after/tls-config/mesh-ca.pem"), Read(dir_ / "web/tls-config/mesh-ca.pem"));

  // A ready Coordinator is not recovered again unless forced.
  const Completed twice = Recover(manifest, "seedshare-owner.pem");
  EXPECT_NE(twice.code, 0);
  EXPECT_THAT(twice.output, HasSubstr("--force"));
  EXPECT_EQ(Recover(manifest, "seedshare-owner.pem", {"--force"}).code, 0);
}

// Someone with write access to the store puts back an older, correctly
// signed transitions/latest. The Coordinator recovers to it (every record is
// authentic), but `verify` notices that the history no longer contains the
// transition it saved last time.
TEST_F(RecoveryE2e, RolledBackStoreIsCaughtByVerify) {
  StartCoordinator();
  const std::string first = WriteManifest("manifest.json", Manifest(kMeasurement));
  ASSERT_EQ(Set(first).code, 0);
  const std::filesystem::path latest = dir_ / "coordinator-state/transitions/latest";
  const std::string first_latest = Read(latest);
  const std::string second = WriteManifest("manifest2.json", Manifest(kMeasurement, {"web"}));
  const Completed updated = Set(second);
  ASSERT_EQ(updated.code, 0) << updated.output;
  const Completed seen = Verify(second);
  ASSERT_EQ(seen.code, 0) << seen.output;
  const auto verify_before = FilesBelow(dir_ / "verify");

  EXPECT_EQ(coordinator_->Kill(), 128 + 9);
  ASSERT_TRUE(WriteFileAtomic(latest, first_latest));
  StartCoordinator();
  const Completed recovered = Recover(first, "seedshare-owner.pem");
  ASSERT_EQ(recovered.code, 0) << recovered.output;

  const Completed rolled_back = Verify(first);
  EXPECT_NE(rolled_back.code, 0);
  EXPECT_THAT(rolled_back.output, HasSubstr(Trim(verify_before.at("latest-transition"))));
  EXPECT_THAT(rolled_back.output, HasSubstr("rolled back"));
  // The evidence of the last good run stays.
  EXPECT_EQ(FilesBelow(dir_ / "verify"), verify_before);
}

// The seed share, the HKDF outputs and the root key, checked with the
// openssl binary rather than with our own code.
TEST_F(RecoveryE2e, OpensslAgreesWithTheSeedShareHkdfAndRootKey) {
  StartCoordinator();
  const std::string manifest = WriteManifest("manifest.json", Manifest(kMeasurement));
  ASSERT_EQ(Set(manifest).code, 0);
  ASSERT_EQ(Initialize("web", dir_ / "web").code, 0);

  auto document = seed::ParseSeedShareDocument(Read(dir_ / "seed-shares.json"));
  ASSERT_TRUE(document) << document.error().message;
  ASSERT_EQ(document->shares.size(), 1u);
  EXPECT_EQ(HexEncode(document->shares[0].public_key), seedshare_owner_keys_[0]);
  ASSERT_TRUE(WriteFileAtomic(dir_ / "share.bin", document->shares[0].encrypted_seed));
  const Completed decrypted =
      RunProcess({kOpenssl, "pkeyutl", "-decrypt", "-inkey", (dir_ / "seedshare-owner.pem").string(), "-in",
                  (dir_ / "share.bin").string(), "-out", (dir_ / "seed.bin").string(), "-pkeyopt",
                  "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256",
                  "-pkeyopt", "rsa_oaep_label:" + HexEncode(AsBytes("seedshare"))},
                 dir_ / "pkeyutl.log");
  ASSERT_EQ(decrypted.code, 0) << decrypted.output;
  const std::string seed_hex = HexEncode(AsBytes(Read(dir_ / "seed.bin")));
  ASSERT_EQ(seed_hex.size(), 128u);

  auto hkdf = [&](const std::string& key_hex, const std::string& info) {
    const Completed kdf = RunProcess({kOpenssl, "kdf", "-keylen", "64", "-binary", "-out", (dir_ / "kdf.bin").string(),
                                      "-kdfopt", "digest:SHA256", "-kdfopt", "hexkey:" + key_hex, "-kdfopt",
                                      "hexsalt:" + HexEncode(document->salt), "-kdfopt", "info:" + info, "HKDF"},
                                     dir_ / "kdf.log");
    EXPECT_EQ(kdf.code, 0) << kdf.output;
    return Read(dir_ / "kdf.bin");
  };
  // The root CA key: HKDF by openssl, then our det-keygen, against the
  // public key openssl reads from the root certificate.
  const std::string root_secret = hkdf(seed_hex, "ROOT CA SEED");
  ASSERT_EQ(root_secret.size(), 64u);
  auto root_key = seed::DeriveEcP384Key(AsBytes(root_secret));
  ASSERT_TRUE(root_key);
  const std::string derived = std::string(AsChars(*root_key->PublicKeyDer()));
  EXPECT_EQ(OpensslCertificatePublicKey(dir_ / "coordinator-root-ca.pem", dir_), derived);
  // The workload secret the Initializer wrote.
  const std::string pod_state = hkdf(seed_hex, "POD STATE SECRET");
  const std::string workload = hkdf(HexEncode(AsBytes(pod_state)), "WORKLOAD SECRET ID: web-disk");
  EXPECT_EQ(Read(dir_ / "web/secrets/workload-secret-seed"), HexEncode(AsBytes(workload)));
}

}  // namespace
}  // namespace contrast
