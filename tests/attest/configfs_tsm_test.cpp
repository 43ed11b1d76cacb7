// configfs-tsm issuer: what can be checked on a plain directory (no
// configfs semantics). The kernel-contract flow (REPORT_DATA binding, racing
// writers, providers) is tested against the FUSE emulator.
#include "attest/tsm/configfs_tsm.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

namespace contrast::attest::tsm {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class ConfigfsTsmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string dir = (fs::temp_directory_path() / "contrast-tsm-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(dir.data()), nullptr);
    root_ = dir;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  ConfigfsTsmOptions Options() const {
    ConfigfsTsmOptions options;
    options.tsm_dir = root_ / "tsm";
    return options;
  }
  fs::path root_;
};

TEST_F(ConfigfsTsmTest, NoTsmDirectoryIsNotFoundWithThePath) {
  auto issuer = ConfigfsTsmIssuer::Open(Options());
  ASSERT_FALSE(issuer.has_value());
  EXPECT_EQ(issuer.error().code, ErrorCode::kNotFound);
  EXPECT_THAT(issuer.error().message, HasSubstr("configfs-tsm not available at " + (root_ / "tsm/report").string()));
  EXPECT_THAT(issuer.error().message, HasSubstr("kernel 6.7+"));
}

TEST_F(ConfigfsTsmTest, TsmWithoutReportDirectoryIsNotFound) {
  fs::create_directories(root_ / "tsm");
  auto issuer = ConfigfsTsmIssuer::Open(Options());
  ASSERT_FALSE(issuer.has_value());
  EXPECT_EQ(issuer.error().code, ErrorCode::kNotFound);
}

TEST_F(ConfigfsTsmTest, ReportThatIsAFileIsAnIoError) {
  fs::create_directories(root_ / "tsm");
  std::ofstream(root_ / "tsm/report") << "not a directory";
  auto issuer = ConfigfsTsmIssuer::Open(Options());
  ASSERT_FALSE(issuer.has_value());
  EXPECT_EQ(issuer.error().code, ErrorCode::kIo);
  EXPECT_THAT(issuer.error().message, HasSubstr((root_ / "tsm/report").string()));
  EXPECT_THAT(issuer.error().message, HasSubstr("Not a directory"));
}

TEST_F(ConfigfsTsmTest, EntryWithoutProviderNamesTheFileAndIsRemoved) {
  // A plain directory: mkdir works, but nothing populates the entry.
  fs::create_directories(root_ / "tsm/report");
  auto issuer = ConfigfsTsmIssuer::Open(Options());
  ASSERT_FALSE(issuer.has_value());
  EXPECT_EQ(issuer.error().code, ErrorCode::kIo);
  EXPECT_THAT(issuer.error().message, HasSubstr((root_ / "tsm/report").string() + "/contrast-"));
  EXPECT_THAT(issuer.error().message, HasSubstr("/provider: No such file or directory"));
  // The probe entry was removed again despite the failure.
  EXPECT_TRUE(fs::is_empty(root_ / "tsm/report"));
}

TEST_F(ConfigfsTsmTest, PrivlevelOutOfRangeIsRejectedBeforeTouchingFiles) {
  for (int privlevel : {4, -2, 100}) {
    ConfigfsTsmOptions options = Options();
    options.privlevel = privlevel;
    auto issuer = ConfigfsTsmIssuer::Open(options);
    ASSERT_FALSE(issuer.has_value());
    EXPECT_EQ(issuer.error().code, ErrorCode::kInvalidArgument) << privlevel;
    EXPECT_THAT(issuer.error().message, HasSubstr("privlevel " + std::to_string(privlevel)));
  }
}

TEST_F(ConfigfsTsmTest, MaxAttemptsBelowOneIsRejected) {
  ConfigfsTsmOptions options = Options();
  options.max_attempts = 0;
  auto issuer = ConfigfsTsmIssuer::Open(options);
  ASSERT_FALSE(issuer.has_value());
  EXPECT_EQ(issuer.error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace contrast::attest::tsm
