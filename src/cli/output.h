// Shared pieces of the CLI's human-readable output.
#pragma once

#include <iosfwd>

namespace contrast::cli {

// The loud banner every command prints when it trusts the emulated platform.
void PrintInsecureWarning(std::ostream& err);

}  // namespace contrast::cli
