// The configfs-tsm issuer on a TDX guest's kernel interface: a real FUSE
// mount in a temp dir where TsmFileSystem serves provider "tdx_guest" with
// quotes of the emulated TDX platform, verified by TdxEvidenceVerifier pinned
// to the emulated root, and a session over real gRPC on loopback whose
// attester reads its quote from that mount. Needs /dev/fuse: elsewhere the
// tests skip with the reason, under CI=true they fail.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <set>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "attest/emulated/tsm_fs.h"
#include "attest/tdx/quote.h"
#include "attest/tsm/configfs_tsm.h"
#include "support/emulated_tdx_session.h"
#include "support/fuse.h"

namespace contrast::attest {
namespace {

namespace fs = std::filesystem;
using emulated::EmulatedTdxGuest;
using emulated::TsmFileSystem;
using emulated::TsmFileSystemOptions;
using testing::AcceptTdx;
using testing::EmulatedTdx;
using ::testing::HasSubstr;
using testing::kTdMrTd;
using testing::kTdxCoordinatorPolicy;
using testing::kTdxWorkloadPolicy;
using testing::TdLaunchedWith;

ReportData DataOf(uint8_t seed) {
  ReportData data{};
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(seed + i);
  return data;
}

Result<std::string> ReadText(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Fail(ErrorCode::kIo, path.string() + ": " + std::strerror(errno));
  std::string text;
  char buffer[8192];
  ssize_t n = 0;
  while ((n = ::read(fd, buffer, sizeof buffer)) > 0) text.append(buffer, static_cast<size_t>(n));
  const int error = errno;
  ::close(fd);
  if (n < 0) return Fail(ErrorCode::kIo, path.string() + ": " + std::strerror(error));
  return text;
}

int WriteErrno(const fs::path& path, std::string_view data) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  if (::write(fd, data.data(), data.size()) < 0) {
    const int error = errno;
    ::close(fd);
    return error;
  }
  return ::close(fd) == 0 ? 0 : errno;
}

std::set<std::string> Entries(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& item : fs::directory_iterator(dir)) names.insert(item.path().filename().string());
  return names;
}

// A temp dir with the emulated TDX configfs-tsm mounted on dir/<name>.
class TdxTsmMount {
 public:
  TdxTsmMount() {
    static int runs = 0;
    dir_ = fs::temp_directory_path() / ("tsmtdx-" + std::to_string(::getpid()) + "-" + std::to_string(++runs));
    fs::remove_all(dir_);
  }
  ~TdxTsmMount() {
    mounts_.clear();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  TdxTsmMount(const TdxTsmMount&) = delete;
  TdxTsmMount& operator=(const TdxTsmMount&) = delete;

  // The mount point of a TD launched with `policy`, or an error (FUSE
  // unusable).
  Result<fs::path> Mount(const std::string& name, const tdx::PolicyDigest& policy, TsmFileSystemOptions options = {}) {
    const fs::path mountpoint = dir_ / name;
    fs::create_directories(mountpoint);
    auto mounted = TsmFileSystem::Mount(mountpoint, EmulatedTdxGuest{EmulatedTdx(), TdLaunchedWith(policy)}, options);
    if (!mounted) return Fail(mounted.error());
    mounts_.push_back(std::move(*mounted));
    return mountpoint;
  }

 private:
  fs::path dir_;
  std::vector<std::unique_ptr<TsmFileSystem>> mounts_;
};

class ConfigfsTsmTdxFuseTest : public ::testing::Test {
 protected:
  void SetUp() override { CONTRAST_REQUIRE_FUSE(); }

  // Mounts a TD of kTdxWorkloadPolicy (skips or fails when FUSE is unusable).
  void Mount(TsmFileSystemOptions options = {}) {
    auto mounted = mount_.Mount("tsm", kTdxWorkloadPolicy, options);
    if (!mounted) CONTRAST_SKIP_WITHOUT_FUSE(mounted.error().message);
    tsm_dir_ = *mounted;
  }

  // Evidence the issuer gave for `data`: a quote the verifier pinned to the
  // emulated root accepts for the session binding `data`, naming the TD's
  // policy as HOST_DATA.
  void ExpectVerifiedAndBound(const Evidence& evidence, const ReportData& data) {
    EXPECT_EQ(evidence.platform, kPlatformTdx);
    EXPECT_TRUE(evidence.endorsement_key.empty());
    EXPECT_TRUE(evidence.cert_chain.empty());
    auto verified = verifier_->Verify(evidence, data, AcceptTdx(kTdxWorkloadPolicy));
    ASSERT_TRUE(verified) << verified.error().message;
    EXPECT_EQ(verified->platform(), kPlatformTdx);
    EXPECT_EQ(verified->host_data(), kTdxWorkloadPolicy);
    ASSERT_NE(verified->tdx(), nullptr);
    EXPECT_EQ(verified->tdx()->td_report().report_data, data);
    EXPECT_EQ(verified->tdx()->td_report().mr_td, kTdMrTd);
  }

  fs::path report_dir() const { return tsm_dir_ / "report"; }

  TdxTsmMount mount_;
  fs::path tsm_dir_;
  std::unique_ptr<tdx::TdxEvidenceVerifier> verifier_ = testing::EmulatedTdxVerifier();
};

TEST_F(ConfigfsTsmTdxFuseTest, IssuerIsTdxAndItsQuoteVerifiesForTheSessionBinding) {
  Mount();
  if (HasFatalFailure() || IsSkipped()) return;
  auto issuer = tsm::ConfigfsTsmIssuer::Open({.tsm_dir = tsm_dir_});
  ASSERT_TRUE(issuer) << issuer.error().message;
  EXPECT_EQ((*issuer)->platform(), kPlatformTdx);
  for (const uint8_t seed : {0x01, 0x80}) {
    auto evidence = (*issuer)->Issue(DataOf(seed));
    ASSERT_TRUE(evidence) << evidence.error().message;
    ExpectVerifiedAndBound(*evidence, DataOf(seed));
    // Bound to this binding only.
    auto other = verifier_->Verify(*evidence, DataOf(uint8_t(seed + 1)), AcceptTdx(kTdxWorkloadPolicy));
    ASSERT_FALSE(other);
    EXPECT_THAT(other.error().message, HasSubstr("not bound to this session"));
  }
  EXPECT_TRUE(Entries(report_dir()).empty());
}

// What the kernel's tdx_guest shows: the attributes every provider has, and
// no auxblob or privlevel; outblob a quote for the inblob, made once per
// generation.
TEST_F(ConfigfsTsmTdxFuseTest, EntriesAreThoseOfTdxGuest) {
  Mount();
  if (HasFatalFailure() || IsSkipped()) return;
  const fs::path entry = report_dir() / "mine";
  ASSERT_EQ(::mkdir(entry.c_str(), 0755), 0) << std::strerror(errno);
  EXPECT_EQ(Entries(entry), (std::set<std::string>{"generation", "inblob", "outblob", "provider"}));
  struct stat st {};
  EXPECT_NE(::stat((entry / "auxblob").c_str(), &st), 0);
  EXPECT_EQ(errno, ENOENT);
  EXPECT_NE(WriteErrno(entry / "privlevel", "0"), 0);
  EXPECT_EQ(ReadText(entry / "provider").value_or(""), "tdx_guest\n");

  ASSERT_EQ(WriteErrno(entry / "inblob", "abc"), 0);
  EXPECT_EQ(ReadText(entry / "generation").value_or(""), "1\n");
  auto outblob = ReadText(entry / "outblob");
  ASSERT_TRUE(outblob) << outblob.error().message;
  auto quote = tdx::ParseQuote(AsBytes(*outblob));
  ASSERT_TRUE(quote) << quote.error().message;
  std::array<uint8_t, 64> expected{};
  expected[0] = 'a';
  expected[1] = 'b';
  expected[2] = 'c';
  EXPECT_EQ(quote->td_report.report_data, expected);
  EXPECT_EQ(quote->td_report.mr_config_id, TdLaunchedWith(kTdxWorkloadPolicy).mr_config_id);
  // ECDSA signatures are randomised: an equal quote is the cached one.
  EXPECT_EQ(ReadText(entry / "outblob").value_or(""), *outblob);
  ASSERT_EQ(WriteErrno(entry / "inblob", "xyz"), 0);
  auto next = ReadText(entry / "outblob");
  ASSERT_TRUE(next) << next.error().message;
  auto next_quote = tdx::ParseQuote(AsBytes(*next));
  ASSERT_TRUE(next_quote) << next_quote.error().message;
  EXPECT_EQ(next_quote->td_report.report_data[0], 'x');
  ASSERT_EQ(::rmdir(entry.c_str()), 0) << std::strerror(errno);
}

// Another writer's inblob lands just before the issuer's first outblob read:
// the issuer notices (generation) and its evidence is still its own.
TEST_F(ConfigfsTsmTdxFuseTest, IssuerRetriesWhenAnotherWriterRacedAndReturnsItsOwnQuote) {
  Mount({.race_first_outblob_read_for_test = true});
  if (HasFatalFailure() || IsSkipped()) return;
  auto issuer = tsm::ConfigfsTsmIssuer::Open({.tsm_dir = tsm_dir_});
  ASSERT_TRUE(issuer) << issuer.error().message;
  auto evidence = (*issuer)->Issue(DataOf(0x10));
  ASSERT_TRUE(evidence) << evidence.error().message;
  ExpectVerifiedAndBound(*evidence, DataOf(0x10));

  // The race did happen in the issuer's read: a later entry is not raced.
  const fs::path entry = report_dir() / "after";
  ASSERT_EQ(::mkdir(entry.c_str(), 0755), 0);
  ASSERT_EQ(WriteErrno(entry / "inblob", "later"), 0);
  auto quote = tdx::ParseQuote(AsBytes(ReadText(entry / "outblob").value_or("")));
  ASSERT_TRUE(quote) << quote.error().message;
  EXPECT_EQ(quote->td_report.report_data[0], 'l');
  ASSERT_EQ(::rmdir(entry.c_str()), 0);
  EXPECT_TRUE(Entries(report_dir()).empty());
}

// A workload attests to the mesh API over real gRPC TLS on loopback with a
// quote its ConfigfsTsmIssuer read from the kernel interface.
class ConfigfsTsmTdxSession : public testing::TdxSessionFixture {
 protected:
  // An issuer on the configfs-tsm of a TD launched with `policy`.
  std::unique_ptr<tsm::ConfigfsTsmIssuer> IssuerOnMount(const std::string& name, const tdx::PolicyDigest& policy) {
    auto mounted = mount_.Mount(name, policy);
    if (!mounted) {
      ADD_FAILURE() << mounted.error().message;
      return nullptr;
    }
    auto issuer = tsm::ConfigfsTsmIssuer::Open({.tsm_dir = *mounted});
    if (!issuer) {
      ADD_FAILURE() << issuer.error().message;
      return nullptr;
    }
    return std::move(*issuer);
  }

  TdxTsmMount mount_;
};

TEST_F(ConfigfsTsmTdxSession, AWorkloadAttestsWithAQuoteFromConfigfsTsm) {
  CONTRAST_REQUIRE_FUSE();
  auto verifier = testing::EmulatedTdxVerifier();
  testing::TdxMeshService mesh(*verifier, AcceptTdx(kTdxWorkloadPolicy), nonces_);
  Start({&mesh});
  auto workload = IssuerOnMount("workload", kTdxWorkloadPolicy);
  ASSERT_NE(workload, nullptr);
  EXPECT_EQ(workload->platform(), kPlatformTdx);
  auto response = NewMeshCert(*workload);
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->cert_chain(), "tdx " + HexEncode(kTdxWorkloadPolicy) + " " + HexEncode(kTdMrTd));
  EXPECT_EQ(nonces_.outstanding(), 0u);

  // A TD of a policy the manifest does not hold: its MRCONFIGID, read through
  // the mount, is refused.
  auto other = IssuerOnMount("other", kTdxCoordinatorPolicy);
  ASSERT_NE(other, nullptr);
  auto refused = NewMeshCert(*other);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kPolicyViolation);
  EXPECT_THAT(refused.error().message, HasSubstr("MRCONFIGID"));
}

}  // namespace
}  // namespace contrast::attest
