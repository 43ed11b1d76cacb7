#include "cli/history_check.h"

#include <algorithm>

#include "common/bytes.h"
#include "common/files.h"
#include "manifest/manifest.h"

namespace contrast::cli {
namespace {

bool IsZero(const history::TransitionHash& hash) {
  return std::all_of(hash.begin(), hash.end(), [](uint8_t b) { return b == 0; });
}

std::string_view Trim(std::string_view text) {
  constexpr std::string_view kSpace = " \t\r\n";
  const size_t begin = text.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  const size_t end = text.find_last_not_of(kSpace);
  return text.substr(begin, end - begin + 1);
}

}  // namespace

std::filesystem::path SavedLatestTransitionPath(const std::filesystem::path& workspace) {
  return workspace / "verify" / "latest-transition";
}

Result<history::TransitionHash> ParseTransitionHashHex(std::string_view text) {
  const std::string_view hex = Trim(text);
  history::TransitionHash hash{};
  if (hex.size() != 2 * hash.size()) {
    return Fail(ErrorCode::kInvalidArgument,
                "a transition hash is 64 hex characters, got " + std::to_string(hex.size()) + " characters");
  }
  auto bytes = HexDecode(hex);
  if (!bytes)
    return Fail(ErrorCode::kInvalidArgument, "a transition hash is 64 hex characters: " + bytes.error().message);
  std::copy(bytes->begin(), bytes->end(), hash.begin());
  return hash;
}

std::string FormatSavedTransition(const history::TransitionHash& transition) { return HexEncode(transition) + "\n"; }

Result<std::optional<history::TransitionHash>> ReadSavedLatestTransition(const std::filesystem::path& workspace) {
  const std::filesystem::path path = SavedLatestTransitionPath(workspace);
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::optional<history::TransitionHash>();
  auto text = ReadTextFile(path, 1024);
  if (!text) return Fail(text.error());
  auto hash = ParseTransitionHashHex(*text);
  if (!hash) return Fail(hash.error().Wrap(path.string()));
  return std::optional<history::TransitionHash>(*hash);
}

Result<PreviousTransition> ResolvePreviousTransition(const std::optional<std::string>& flag,
                                                     const std::filesystem::path& workspace) {
  if (flag) {
    auto hash = ParseTransitionHashHex(*flag);
    if (!hash) return Fail(hash.error().Wrap("--latest-transition"));
    return PreviousTransition{*hash, "--latest-transition"};
  }
  auto saved = ReadSavedLatestTransition(workspace);
  if (!saved) return Fail(saved.error());
  if (*saved) return PreviousTransition{**saved, SavedLatestTransitionPath(workspace).string()};
  return PreviousTransition{history::kNoPreviousTransition, "no manifest yet"};
}

Result<std::vector<history::TransitionHash>> LinkHistory(const v1::GetManifestsResponse& response) {
  const std::string& latest_bytes = response.latest_transition_hash();
  history::TransitionHash latest{};
  if (!latest_bytes.empty()) {
    if (latest_bytes.size() != latest.size()) {
      return Fail(ErrorCode::kParse, "the Coordinator sent a latest transition hash of " +
                                         std::to_string(latest_bytes.size()) + " bytes (expected 32)");
    }
    std::copy(latest_bytes.begin(), latest_bytes.end(), latest.begin());
  } else if (response.manifests_size() > 0) {
    return Fail(ErrorCode::kParse, "the Coordinator sent a history without its latest transition hash");
  }

  std::vector<history::TransitionHash> chain;
  chain.reserve(static_cast<size_t>(response.manifests_size()));
  history::TransitionHash previous = history::kNoPreviousTransition;
  for (const std::string& manifest : response.manifests()) {
    previous = history::ComputeTransitionHash(manifest::ManifestHash(AsBytes(manifest)), previous);
    chain.push_back(previous);
  }
  if (previous != latest) {
    return Fail(ErrorCode::kValidationFailed,
                "the history does not link up to the latest transition: its " +
                    std::to_string(response.manifests_size()) + " manifest(s) chain to " + HexEncode(previous) +
                    ", but the Coordinator names " + HexEncode(latest) +
                    " as its latest transition (the history is incomplete or was altered)");
  }
  return chain;
}

Status CheckHistoryExtends(const std::vector<history::TransitionHash>& chain, const history::TransitionHash& saved) {
  if (IsZero(saved)) return {};
  if (std::find(chain.begin(), chain.end(), saved) != chain.end()) return {};
  const std::string latest = chain.empty() ? "none (its history is empty)" : HexEncode(chain.back());
  return Fail(ErrorCode::kValidationFailed,
              "the Coordinator's history no longer contains transition " + HexEncode(saved) +
                  " that the last verify saw: its store was rolled back or replaced (its latest transition is " +
                  latest + ")");
}

}  // namespace contrast::cli
