#include "cli/seed_shares_file.h"

#include <ctime>
#include <ostream>

#include "common/files.h"
#include "seed/shares.h"

namespace contrast::cli {
namespace {

// seed-shares.<UTC time>.json (with a counter if that exists too).
std::filesystem::path TimestampedSeedSharesPath(const std::filesystem::path& workspace) {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char stamp[32] = {};
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &utc);
  std::filesystem::path path = workspace / ("seed-shares." + std::string(stamp) + ".json");
  std::error_code ec;
  for (int i = 1; std::filesystem::exists(path, ec); ++i) {
    path = workspace / ("seed-shares." + std::string(stamp) + "-" + std::to_string(i) + ".json");
  }
  return path;
}

}  // namespace

Result<std::filesystem::path> SaveSeedShares(const v1::SeedShareDocument& shares,
                                             const std::filesystem::path& workspace, std::ostream& out,
                                             std::ostream& err) {
  seed::SeedShareDocument document;
  for (const v1::SeedShare& share : shares.seed_shares()) {
    document.shares.push_back(seed::SeedShare{Bytes(share.public_key().begin(), share.public_key().end()),
                                              Bytes(share.encrypted_seed().begin(), share.encrypted_seed().end())});
  }
  document.salt.assign(shares.salt().begin(), shares.salt().end());
  const std::string text = seed::SerializeSeedShareDocument(document);
  if (auto valid = seed::ParseSeedShareDocument(text); !valid) {
    return Fail(valid.error().Wrap("the Coordinator sent malformed seed shares"));
  }
  std::filesystem::path path = workspace / "seed-shares.json";
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    auto existing = ReadTextFile(path, seed::kMaxSeedShareDocumentSize);
    if (existing && *existing == text) {
      out << path.string() << " already holds these seed shares.\n";
      return path;
    }
    const std::filesystem::path other = path;
    path = TimestampedSeedSharesPath(workspace);
    err << "\n"
        << "  ################################################################\n"
        << "  WARNING: " << other.string() << " already exists and holds OTHER seed\n"
        << "  shares (of an earlier deployment?). It was left as it was.\n"
        << "  The seed shares of THIS deployment go to\n"
        << "    " << path.string() << "\n"
        << "  Keep both until you know which one you need.\n"
        << "  ################################################################\n\n";
  }
  if (auto written = WriteFileAtomic(path, text, 0600); !written) {
    err << "error: cannot write the seed shares (" << written.error().message
        << "). They are not secret without the seed-share owner key; SAVE THEM NOW, they are sent only once:\n"
        << text;
    return Fail(written.error());
  }
  out << "Wrote " << path.string() << ": the Coordinator's seed, encrypted to the " << document.shares.size()
      << " seed-share owner key(s) of the manifest.\n"
      << "BACK IT UP, together with the seed-share owner key: without both, a restarted Coordinator cannot be "
         "recovered (`contrast recover`) and the deployment must be set up anew.\n";
  return path;
}

}  // namespace contrast::cli
