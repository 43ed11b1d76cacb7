// The `contrast` command line: flag parsing and dispatch to the commands.
// apps/contrast/main.cpp only calls Main, so every command runs in-process in
// tests.
#pragma once

#include <iosfwd>

namespace contrast::cli {

// Exit codes shared by every command.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;  // the command ran and the answer is "no"
inline constexpr int kExitUsage = 2;   // bad flags, unreadable input files

int Main(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace contrast::cli
