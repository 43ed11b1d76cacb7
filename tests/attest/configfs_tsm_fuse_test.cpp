// The configfs-tsm issuer against the emulated configfs-tsm: a real FUSE
// mount in a temp dir, served by TsmFileSystem from a real emulator daemon on
// a Unix socket. Needs /dev/fuse: elsewhere the tests skip with the reason,
// under CI=true they fail.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "attest/emulated/daemon.h"
#include "attest/emulated/secure_processor.h"
#include "attest/emulated/tsm_fs.h"
#include "attest/snp/abi.h"
#include "attest/snp/cert_table.h"
#include "attest/snp/verify.h"
#include "attest/tsm/configfs_tsm.h"
#include "crypto/x509.h"
#include "support/fuse.h"

namespace contrast::attest {
namespace {

namespace fs = std::filesystem;
using emulated::TsmFileSystem;
using emulated::TsmFileSystemOptions;
using ::testing::HasSubstr;

template <size_t N>
snp::ByteArray<N> Filled(uint8_t value) {
  snp::ByteArray<N> out;
  out.fill(value);
  return out;
}

const emulated::Measurement kMeasurement = Filled<48>(0x4D);
const emulated::HostData kHostData = Filled<32>(0x48);

ReportData DataOf(uint8_t seed) {
  ReportData data{};
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(seed + i);
  return data;
}

const emulated::SecureProcessor& Emulator() {
  static const emulated::SecureProcessor sp = [] {
    emulated::SecureProcessorOptions options;
    options.ca_key_type_for_test = crypto::KeyType::kRsa2048;
    auto created = emulated::SecureProcessor::CreateInMemory(options);
    if (!created) throw std::runtime_error(created.error().message);
    return std::move(*created);
  }();
  return sp;
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

// The errno of writing `data` to `path` (0 on success); like configfs,
// errors may come from write() or from close().
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

int OpenErrno(const fs::path& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return errno;
  ::close(fd);
  return 0;
}

std::set<std::string> Entries(const fs::path& report_dir) {
  std::set<std::string> names;
  for (const auto& item : fs::directory_iterator(report_dir)) names.insert(item.path().filename().string());
  return names;
}

snp::ByteArray<64> ReportDataOf(std::string_view outblob) {
  auto report = snp::ParseReport(AsBytes(outblob));
  if (!report) throw std::runtime_error(report.error().message);
  return report->report_data;
}

class ConfigfsTsmFuseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Short: the daemon's socket path must fit a Unix socket address.
    static int runs = 0;
    dir_ = fs::temp_directory_path() / ("tsmfuse-" + std::to_string(::getpid()) + "-" + std::to_string(++runs));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "tsm");
    auto daemon = emulated::Daemon::Start(Emulator(), dir_ / "sp.sock");
    ASSERT_TRUE(daemon) << daemon.error().message;
    daemon_ = std::move(*daemon);
    auto token = emulated::RegisterVmWithDaemon(dir_ / "sp.sock", kMeasurement, kHostData);
    ASSERT_TRUE(token) << token.error().message;
    auto client = emulated::GuestClient::Create(dir_ / "sp.sock", *token);
    ASSERT_TRUE(client) << client.error().message;
    client_ = std::move(*client);
  }

  void TearDown() override {
    fs_.reset();
    daemon_.reset();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  // Mounts the emulated configfs-tsm on dir_/tsm (skips or fails the test
  // when FUSE is unusable).
  void Mount(TsmFileSystemOptions options = {}) {
    CONTRAST_REQUIRE_FUSE();
    auto mounted = TsmFileSystem::Mount(tsm_dir(), *client_, options);
    if (!mounted) CONTRAST_SKIP_WITHOUT_FUSE(mounted.error().message);
    fs_ = std::move(*mounted);
  }

  // Evidence the issuer gave for `data`: authentic under the emulator's
  // root, for this VM, and bound to `data`.
  void ExpectVerifiedAndBound(const Evidence& evidence, const ReportData& data) {
    EXPECT_EQ(evidence.platform, kPlatformInsecureEmulatedSnp);
    snp::Verifier verifier(snp::TrustAnchors{{Emulator().TrustAnchor()}});
    auto verified = verifier.Verify(evidence.report, evidence.endorsement_key, snp::VerifyOptions{});
    ASSERT_TRUE(verified) << verified.error().message;
    EXPECT_EQ(verified->report().report_data, data);
    EXPECT_EQ(verified->report().measurement, kMeasurement);
    EXPECT_EQ(verified->report().host_data, kHostData);
    auto chain = crypto::Certificate::ParsePemChain(evidence.cert_chain);
    ASSERT_TRUE(chain) << chain.error().message;
    ASSERT_EQ(chain->size(), 2u);
    EXPECT_EQ((*chain)[0].Der(), Emulator().ask_der());
    EXPECT_EQ((*chain)[1].Der(), Emulator().ark_der());
  }

  fs::path tsm_dir() const { return dir_ / "tsm"; }
  fs::path report_dir() const { return tsm_dir() / "report"; }

  fs::path dir_;
  std::unique_ptr<emulated::Daemon> daemon_;
  std::optional<emulated::GuestClient> client_;
  std::unique_ptr<TsmFileSystem> fs_;
};

TEST_F(ConfigfsTsmFuseTest, IssuerEvidenceVerifiesAndIsBoundToTheReportDataAsked) {
  Mount();
  if (HasFatalFailure() || IsSkipped()) return;
  auto issuer = tsm::ConfigfsTsmIssuer::Open({.tsm_dir = tsm_dir()});
  ASSERT_TRUE(issuer) << issuer.error().message;
  EXPECT_EQ((*issuer)->platform(), kPlatformInsecureEmulatedSnp);
  for (const uint8_t seed : {0x01, 0x80}) {
    auto evidence = (*issuer)->Issue(DataOf(seed));
    ASSERT_TRUE(evidence) << evidence.error().message;
    ExpectVerifiedAndBound(*evidence, DataOf(seed));
  }
  EXPECT_TRUE(Entries(report_dir()).empty());
}

// The kernel's layout and semantics, file by file.
TEST_F(ConfigfsTsmFuseTest, EntriesHaveConfigfsTsmAttributesAndSemantics) {
  Mount();
  if (HasFatalFailure() || IsSkipped()) return;
  const fs::path entry = report_dir() / "mine";
  ASSERT_EQ(::mkdir(entry.c_str(), 0755), 0) << std::strerror(errno);
  const std::vector<std::pair<std::string, mode_t>> modes = {
      {"auxblob", 0444},   {"generation", 0444},      {"inblob", 0200},  {"outblob", 0444},
      {"privlevel", 0644}, {"privlevel_floor", 0444}, {"provider", 0444}};
  for (const auto& [name, mode] : modes) {
    struct stat st {};
    ASSERT_EQ(::stat((entry / name).c_str(), &st), 0) << name;
    EXPECT_TRUE(S_ISREG(st.st_mode)) << name;
    EXPECT_EQ(st.st_mode & 07777, mode) << name;
    EXPECT_EQ(st.st_uid, 0u) << name;
  }
  EXPECT_EQ(ReadText(entry / "provider").value_or(""), "emulated_sev_guest\n");
  EXPECT_EQ(ReadText(entry / "privlevel_floor").value_or(""), "0\n");
  EXPECT_EQ(ReadText(entry / "generation").value_or(""), "0\n");

  // Every write advances generation; invalid ones are refused and do not.
  EXPECT_EQ(WriteErrno(entry / "inblob", "abc"), 0);
  EXPECT_EQ(ReadText(entry / "generation").value_or(""), "1\n");
  EXPECT_EQ(WriteErrno(entry / "privlevel", "2\n"), 0);
  EXPECT_EQ(ReadText(entry / "privlevel").value_or(""), "2\n");
  EXPECT_EQ(ReadText(entry / "generation").value_or(""), "2\n");
  EXPECT_EQ(WriteErrno(entry / "privlevel", "4"), EINVAL);
  EXPECT_EQ(WriteErrno(entry / "privlevel", "x"), EINVAL);
  EXPECT_EQ(WriteErrno(entry / "inblob", std::string(65, 'a')), EFBIG);
  EXPECT_EQ(ReadText(entry / "generation").value_or(""), "2\n");
  // Attributes only open in their direction, for root too.
  EXPECT_EQ(OpenErrno(entry / "inblob", O_RDONLY), EACCES);
  EXPECT_EQ(OpenErrno(entry / "outblob", O_WRONLY), EACCES);
  EXPECT_EQ(OpenErrno(entry / "generation", O_RDWR), EACCES);
  EXPECT_NE(OpenErrno(entry / "new-file", O_WRONLY | O_CREAT), 0);
  EXPECT_NE(::mkdir((entry / "sub").c_str(), 0755), 0);

  // outblob: a report for the inblob, zero-padded; made once per generation.
  auto outblob = ReadText(entry / "outblob");
  ASSERT_TRUE(outblob) << outblob.error().message;
  ASSERT_EQ(outblob->size(), snp::kReportSize);
  snp::ByteArray<64> expected{};
  expected[0] = 'a';
  expected[1] = 'b';
  expected[2] = 'c';
  EXPECT_EQ(ReportDataOf(*outblob), expected);
  // The signature is randomised: an equal report is the cached one.
  EXPECT_EQ(ReadText(entry / "outblob").value_or(""), *outblob);
  EXPECT_EQ(WriteErrno(entry / "inblob", "xyz"), 0);
  auto next = ReadText(entry / "outblob");
  ASSERT_TRUE(next);
  EXPECT_NE(*next, *outblob);
  EXPECT_EQ(ReportDataOf(*next)[0], 'x');

  // auxblob: the certificate table with the VCEK, ASK and ARK.
  auto auxblob = ReadText(entry / "auxblob");
  ASSERT_TRUE(auxblob) << auxblob.error().message;
  auto table = snp::ParseCertTable(AsBytes(*auxblob));
  ASSERT_TRUE(table) << table.error().message;
  EXPECT_EQ(table->Find(snp::kGuidVcek), Emulator().vcek_der());
  EXPECT_EQ(table->Find(snp::kGuidAsk), Emulator().ask_der());
  EXPECT_EQ(table->Find(snp::kGuidArk), Emulator().ark_der());

  ASSERT_EQ(::rmdir(entry.c_str()), 0) << std::strerror(errno);
  EXPECT_TRUE(Entries(report_dir()).empty());
}

TEST_F(ConfigfsTsmFuseTest, MkdirAndRmdirLeaveNoEntriesAndEntriesAreBounded) {
  Mount({.max_entries = 2});
  if (HasFatalFailure() || IsSkipped()) return;
  ASSERT_EQ(::mkdir((report_dir() / "a").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((report_dir() / "b").c_str(), 0755), 0);
  EXPECT_EQ(Entries(report_dir()), (std::set<std::string>{"a", "b"}));
  EXPECT_NE(::mkdir((report_dir() / "a").c_str(), 0755), 0);
  EXPECT_EQ(errno, EEXIST);
  EXPECT_NE(::mkdir((report_dir() / "c").c_str(), 0755), 0);
  EXPECT_EQ(errno, ENOSPC);
  EXPECT_EQ(::rmdir((report_dir() / "a").c_str()), 0);
  EXPECT_EQ(::rmdir((report_dir() / "b").c_str()), 0);
  EXPECT_NE(::rmdir((report_dir() / "b").c_str()), 0);
  EXPECT_EQ(errno, ENOENT);
  EXPECT_TRUE(Entries(report_dir()).empty());
  // Nothing but entries can be made.
  EXPECT_NE(::mkdir((tsm_dir() / "other").c_str(), 0755), 0);
  EXPECT_NE(::rmdir(report_dir().c_str()), 0);
}

// Another writer on the same entry between a write and the read: outblob is
// theirs, and generation shows it.
TEST_F(ConfigfsTsmFuseTest, GenerationRevealsARacingWriter) {
  Mount();
  if (HasFatalFailure() || IsSkipped()) return;
  const fs::path entry = report_dir() / "shared";
  ASSERT_EQ(::mkdir(entry.c_str(), 0755), 0);
  ASSERT_EQ(WriteErrno(entry / "inblob", "mine"), 0);
  const std::string generation = ReadText(entry / "generation").value_or("");
  std::thread other([&] { EXPECT_EQ(WriteErrno(entry / "inblob", "theirs"), 0); });
  other.join();
  auto outblob = ReadText(entry / "outblob");
  ASSERT_TRUE(outblob) << outblob.error().message;
  EXPECT_EQ(ReportDataOf(*outblob)[0], 't');
  EXPECT_NE(ReadText(entry / "generation").value_or(""), generation);
  ASSERT_EQ(::rmdir(entry.c_str()), 0);
}

// The same race against the issuer, whose entry name is private: the file
// system lets another writer's inblob land just before the issuer's first
// outblob read. The issuer must notice (generation) and try again.
TEST_F(ConfigfsTsmFuseTest, IssuerRetriesWhenAnotherWriterRacedAndReturnsItsOwnReport) {
  Mount({.race_first_outblob_read_for_test = true});
  if (HasFatalFailure() || IsSkipped()) return;
  auto issuer = tsm::ConfigfsTsmIssuer::Open({.tsm_dir = tsm_dir()});
  ASSERT_TRUE(issuer) << issuer.error().message;
  auto evidence = (*issuer)->Issue(DataOf(0x10));
  ASSERT_TRUE(evidence) << evidence.error().message;
  ExpectVerifiedAndBound(*evidence, DataOf(0x10));

  // The race did happen, in the issuer's read: a later entry is not raced.
  const fs::path entry = report_dir() / "after";
  ASSERT_EQ(::mkdir(entry.c_str(), 0755), 0);
  ASSERT_EQ(WriteErrno(entry / "inblob", "later"), 0);
  EXPECT_EQ(ReportDataOf(ReadText(entry / "outblob").value_or(""))[0], 'l');
  ASSERT_EQ(::rmdir(entry.c_str()), 0);
  EXPECT_TRUE(Entries(report_dir()).empty());
}

TEST_F(ConfigfsTsmFuseTest, MissingProviderIsAClearError) {
  Mount({.omit_provider_for_test = true});
  if (HasFatalFailure() || IsSkipped()) return;
  auto issuer = tsm::ConfigfsTsmIssuer::Open({.tsm_dir = tsm_dir()});
  ASSERT_FALSE(issuer);
  EXPECT_THAT(issuer.error().message, HasSubstr("provider"));
  EXPECT_THAT(issuer.error().message, HasSubstr(report_dir().string()));
  EXPECT_TRUE(Entries(report_dir()).empty());
}

// No FUSE needed: a directory without configfs-tsm.
TEST_F(ConfigfsTsmFuseTest, NoConfigfsTsmIsNotFoundWithThePath) {
  const fs::path missing = dir_ / "no-such-tsm";
  auto issuer = tsm::ConfigfsTsmIssuer::Open({.tsm_dir = missing});
  ASSERT_FALSE(issuer);
  EXPECT_EQ(issuer.error().code, ErrorCode::kNotFound);
  EXPECT_THAT(issuer.error().message, HasSubstr(missing.string()));
  // An existing directory that is not configfs-tsm (nothing mounted on it).
  auto empty = tsm::ConfigfsTsmIssuer::Open({.tsm_dir = tsm_dir()});
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code, ErrorCode::kNotFound);
  EXPECT_THAT(empty.error().message, HasSubstr(tsm_dir().string()));
}

TEST_F(ConfigfsTsmFuseTest, ConcurrentIssuersAreEachBoundToTheirOwnData) {
  Mount();
  if (HasFatalFailure() || IsSkipped()) return;
  auto issuer = tsm::ConfigfsTsmIssuer::Open({.tsm_dir = tsm_dir()});
  ASSERT_TRUE(issuer) << issuer.error().message;
  constexpr int kThreads = 8;
  constexpr int kPerThread = 3;
  std::vector<std::vector<Result<Evidence>>> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) results[t].push_back((*issuer)->Issue(DataOf(uint8_t(t * 16 + i))));
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      const auto& evidence = results[t][i];
      ASSERT_TRUE(evidence) << evidence.error().message;
      ExpectVerifiedAndBound(*evidence, DataOf(uint8_t(t * 16 + i)));
    }
  }
  EXPECT_TRUE(Entries(report_dir()).empty());
}

// `umount` from outside ends serving: Wait() returns.
TEST_F(ConfigfsTsmFuseTest, UnmountFromOutsideEndsServing) {
  Mount();
  if (HasFatalFailure() || IsSkipped()) return;
  if (::geteuid() != 0) GTEST_SKIP() << "unmounting from outside needs root here";
  ASSERT_EQ(::umount2(tsm_dir().c_str(), MNT_DETACH), 0) << std::strerror(errno);
  fs_->Wait();
  EXPECT_FALSE(fs::exists(report_dir()));
}

}  // namespace
}  // namespace contrast::attest
