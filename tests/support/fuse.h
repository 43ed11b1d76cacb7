// Tests that mount the emulated configfs-tsm (directly, or through any
// `contrast emulate run`) need a usable /dev/fuse. Elsewhere they skip with
// the reason; under CI=true (the CI machine has FUSE) they fail instead.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include <gtest/gtest.h>

namespace contrast::testing {

// Empty when /dev/fuse can be opened, else why not.
inline std::string FuseUnavailableReason() {
  const int fd = ::open("/dev/fuse", O_RDWR | O_CLOEXEC);
  if (fd < 0) return std::string("/dev/fuse: ") + std::strerror(errno);
  ::close(fd);
  return "";
}

inline bool UnderCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

}  // namespace contrast::testing

// Skips the current test (fails it under CI=true) with `why`.
#define CONTRAST_SKIP_WITHOUT_FUSE(why)                                                                 \
  do {                                                                                                  \
    if (::contrast::testing::UnderCi()) FAIL() << (why) << " (CI=true: the CI machine has FUSE)";       \
    GTEST_SKIP() << (why) << " (the emulated configfs-tsm, and so `contrast emulate run`, needs FUSE)"; \
  } while (0)

// At the start of a test or SetUp(): FUSE must be usable.
#define CONTRAST_REQUIRE_FUSE()                                                               \
  do {                                                                                        \
    if (const std::string why = ::contrast::testing::FuseUnavailableReason(); !why.empty()) { \
      CONTRAST_SKIP_WITHOUT_FUSE(why);                                                        \
    }                                                                                         \
  } while (0)
