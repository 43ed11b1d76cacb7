#include <sys/stat.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "common/files.h"

namespace contrast {
namespace {

class FilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("contrast-files-test-" + std::to_string(::getpid()) + "-" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(FilesTest, AtomicWriteReplacesContentAndSetsMode) {
  const auto path = dir_ / "key.pem";
  ASSERT_TRUE(WriteFileAtomic(path, std::string_view("first"), 0644));
  ASSERT_TRUE(WriteFileAtomic(path, std::string_view("second"), 0400));
  EXPECT_EQ(*ReadTextFile(path), "second");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0400u);
  // No temporary files are left behind.
  size_t entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir_)) ++entries;
  EXPECT_EQ(entries, 1u);
}

TEST_F(FilesTest, WriteIntoMissingDirectoryFailsCleanly) {
  auto written = WriteFileAtomic(dir_ / "missing" / "file", std::string_view("x"));
  ASSERT_FALSE(written);
  EXPECT_EQ(written.error().code, ErrorCode::kNotFound);
}

TEST_F(FilesTest, ReadRespectsLimitAndReportsMissingFiles) {
  const auto path = dir_ / "big";
  ASSERT_TRUE(WriteFileAtomic(path, std::string(1000, 'x')));
  EXPECT_TRUE(ReadFile(path, 1000));
  auto too_big = ReadFile(path, 999);
  ASSERT_FALSE(too_big);
  EXPECT_EQ(too_big.error().code, ErrorCode::kInvalidArgument);
  auto missing = ReadFile(dir_ / "nope");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_FALSE(ReadFile(dir_));
}

}  // namespace
}  // namespace contrast
