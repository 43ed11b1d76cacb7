// Access to the shared, read-only test vectors in ../shared/testdata.
//
// A user's clone has no ../shared: tests that need it skip with a clear
// message. Under CI=true a missing directory is a failure, never a skip.
#pragma once

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "common/bytes.h"

namespace contrast::testing {

// The directory, or empty when it is missing (after recording a failure
// under CI=true).
std::filesystem::path TestdataDir();

// Reads a file below the test data directory; fails the test if unreadable.
Bytes ReadTestdata(const std::string& relative_path);

}  // namespace contrast::testing

// Skips the current test (or fails it under CI=true) when the shared test
// data is not available.
#define CONTRAST_REQUIRE_TESTDATA()                                               \
  do {                                                                            \
    if (::contrast::testing::TestdataDir().empty()) {                             \
      GTEST_SKIP() << "shared test data not found (set CONTRAST_TESTDATA_DIR or " \
                      "check out ../shared beside the repository)";               \
    }                                                                             \
  } while (0)
