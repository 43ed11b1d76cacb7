// seed-shares.json as `contrast set` saves it from the first manifest's
// answer: the only copy of the Coordinator's seed outside the Coordinator
// (encrypted to the seed-share owners), sent exactly once.
#pragma once

#include <filesystem>
#include <iosfwd>

#include "common/result.h"
#include "contrast/userapi.pb.h"

namespace contrast::cli {

// Writes the document (seed::SerializeSeedShareDocument, mode 0600,
// atomically) to <workspace>/seed-shares.json and returns the path. An
// existing file with the same content is left alone; one with other content
// is never overwritten: the shares go to seed-shares.<UTC time>.json and a
// loud warning says so on `err`. A malformed document is refused (kParse);
// if the file cannot be written, the document (not secret without the
// owners' keys) is printed on `err` so it is not lost.
Result<std::filesystem::path> SaveSeedShares(const v1::SeedShareDocument& shares,
                                             const std::filesystem::path& workspace, std::ostream& out,
                                             std::ostream& err);

}  // namespace contrast::cli
