#include "cli/history_check.h"

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include "common/bytes.h"
#include "common/files.h"
#include "crypto/hash.h"
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

Result<std::vector<history::PolicyHash>> PolicyHashesOf(std::string_view manifest) {
  const nlohmann::json parsed = nlohmann::json::parse(manifest, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object()) return Fail(ErrorCode::kParse, "not a JSON object");
  const auto policies = parsed.find("Policies");
  if (policies == parsed.end()) return std::vector<history::PolicyHash>();
  if (!policies->is_object()) return Fail(ErrorCode::kParse, "Policies is not an object");
  std::vector<history::PolicyHash> hashes;
  for (auto it = policies->begin(); it != policies->end(); ++it) {
    auto hash = ParseTransitionHashHex(it.key());  // the same shape: 64 hex characters
    if (!hash || Trim(it.key()).size() != it.key().size()) {
      return Fail(ErrorCode::kParse, "Policies has a key that is not a SHA-256 in hex");
    }
    hashes.push_back(*hash);
  }
  return hashes;
}

namespace {

Result<history::TransitionHash> HashField(const std::string& bytes, std::string_view what) {
  history::TransitionHash hash{};
  if (bytes.size() != hash.size()) {
    return Fail(ErrorCode::kParse, "the Coordinator sent " + std::string(what) + " of " + std::to_string(bytes.size()) +
                                       " bytes (expected 32)");
  }
  std::copy(bytes.begin(), bytes.end(), hash.begin());
  return hash;
}

// Pages from the latest transition back to the first manifest, oldest first.
Status FetchManifests(const FetchManifestPage& fetch_page, size_t max_manifests, CoordinatorHistory& out) {
  v1::GetManifestsRequest request;
  for (bool first = true;; first = false) {
    auto page = fetch_page(request);
    if (!page) return Fail(page.error());
    if (first) {
      out.latest_transition_hash = page->latest_transition_hash();
      out.root_ca = page->root_ca();
      out.mesh_ca = page->mesh_ca();
      out.awaiting_recovery = page->awaiting_recovery();
      out.reason = page->reason();
    }
    if (page->entries_size() == 0) {
      if (first && out.latest_transition_hash.empty()) return {};  // no history
      return Fail(ErrorCode::kValidationFailed, "the Coordinator sent an empty page of its history after " +
                                                    std::to_string(out.manifests.size()) + " manifest(s)");
    }
    if (out.manifests.size() + static_cast<size_t>(page->entries_size()) > max_manifests) {
      return Fail(ErrorCode::kValidationFailed,
                  "the history has more than " + std::to_string(max_manifests) + " manifests (the limit)");
    }
    for (const v1::ManifestHistoryEntry& entry : page->entries()) out.manifests.push_back(entry.manifest());
    auto previous =
        HashField(page->entries(page->entries_size() - 1).previous_transition_hash(), "a previous transition hash");
    if (!previous) return Fail(previous.error());
    if (page->more() != !IsZero(*previous)) {
      return Fail(ErrorCode::kValidationFailed, page->more()
                                                    ? "the Coordinator said more manifests follow the first one"
                                                    : "the Coordinator's history stops at transition " +
                                                          HexEncode(*previous) + " before reaching the first manifest");
    }
    if (!page->more()) break;
    request.set_from_transition_hash(std::string(AsChars(*previous)));
  }
  std::reverse(out.manifests.begin(), out.manifests.end());
  return {};
}

// The documents of every policy the manifests name, each once.
Status FetchPolicyDocuments(const FetchPolicies& fetch_policies, CoordinatorHistory& out) {
  std::vector<history::PolicyHash> wanted;
  std::set<history::PolicyHash> seen;
  for (size_t i = 0; i < out.manifests.size(); ++i) {
    auto hashes = PolicyHashesOf(out.manifests[i]);
    if (!hashes) return Fail(hashes.error().Wrap("manifest " + std::to_string(i) + " of the history"));
    for (const history::PolicyHash& hash : *hashes) {
      if (seen.insert(hash).second) wanted.push_back(hash);
    }
  }
  size_t next = 0;
  while (next < wanted.size()) {
    v1::GetPoliciesRequest request;
    const size_t batch = std::min(wanted.size() - next, history::kMaxPolicyHashesPerRequest);
    for (size_t i = next; i < next + batch; ++i) request.add_policy_hashes(std::string(AsChars(wanted[i])));
    auto response = fetch_policies(request);
    if (!response) return Fail(response.error());
    if (response->policies_size() == 0 || static_cast<size_t>(response->policies_size()) > batch) {
      return Fail(ErrorCode::kValidationFailed, "the Coordinator answered " +
                                                    std::to_string(response->policies_size()) +
                                                    " policy documents for a request of " + std::to_string(batch));
    }
    for (const std::string& document : response->policies()) {
      if (crypto::Sha256(AsBytes(document)) != wanted[next]) {
        return Fail(ErrorCode::kValidationFailed, "the Coordinator sent a document for policy " +
                                                      HexEncode(wanted[next]) + " whose SHA-256 is " +
                                                      HexEncode(crypto::Sha256(AsBytes(document))));
      }
      out.policies.push_back(document);
      ++next;
    }
  }
  return {};
}

}  // namespace

Result<CoordinatorHistory> FetchHistory(const FetchManifestPage& fetch_page, const FetchPolicies& fetch_policies,
                                        size_t max_manifests) {
  CoordinatorHistory history;
  if (auto ok = FetchManifests(fetch_page, max_manifests, history); !ok) return Fail(ok.error());
  if (auto ok = FetchPolicyDocuments(fetch_policies, history); !ok) return Fail(ok.error());
  return history;
}

Result<std::vector<history::TransitionHash>> LinkHistory(const CoordinatorHistory& history) {
  const std::string& latest_bytes = history.latest_transition_hash;
  history::TransitionHash latest{};
  if (!latest_bytes.empty()) {
    auto parsed = HashField(latest_bytes, "a latest transition hash");
    if (!parsed) return Fail(parsed.error());
    latest = *parsed;
  } else if (!history.manifests.empty()) {
    return Fail(ErrorCode::kParse, "the Coordinator sent a history without its latest transition hash");
  }

  std::vector<history::TransitionHash> chain;
  chain.reserve(history.manifests.size());
  history::TransitionHash previous = history::kNoPreviousTransition;
  for (const std::string& manifest : history.manifests) {
    previous = history::ComputeTransitionHash(manifest::ManifestHash(AsBytes(manifest)), previous);
    chain.push_back(previous);
  }
  if (previous != latest) {
    return Fail(ErrorCode::kValidationFailed,
                "the history does not link up to the latest transition: its " +
                    std::to_string(history.manifests.size()) + " manifest(s) chain to " + HexEncode(previous) +
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
