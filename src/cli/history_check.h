// The CLI's own checks of a Coordinator's manifest history, and the
// transition a local operation builds on. Functions over the GetManifests
// and GetPolicies answers (fetched through callables) and the workspace
// files, so they are testable without a Coordinator.
//
// The history is a hash chain (history/history.h): T_0 is 32 zero bytes and
// T_i = ComputeTransitionHash(ManifestHash(manifest_i), T_{i-1}). `verify`
// recomputes it from the manifests it received and saves the last one in
// verify/latest-transition (and a successful `set` saves the transition it
// made there); the next `verify` requires that saved transition to still be
// in the chain (a Coordinator whose store was rolled back to an older signed
// state, or replaced, no longer has it), `set` refuses to sign on top of any
// other transition unless told to, and `sign` and `set --atomic` build on it.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "contrast/userapi.pb.h"
#include "history/history.h"

namespace contrast::cli {

// <workspace>/verify/latest-transition
std::filesystem::path SavedLatestTransitionPath(const std::filesystem::path& workspace);

// 64 hex characters (either case), surrounding whitespace ignored (the file
// ends in a newline). kInvalidArgument otherwise.
Result<history::TransitionHash> ParseTransitionHashHex(std::string_view text);

// The content of verify/latest-transition: lower-case hex and a newline.
std::string FormatSavedTransition(const history::TransitionHash& transition);

// nullopt when the file does not exist; kInvalidArgument (naming the file)
// when it is malformed.
Result<std::optional<history::TransitionHash>> ReadSavedLatestTransition(const std::filesystem::path& workspace);

// The transition an update builds on, and where it came from (for messages).
struct PreviousTransition {
  history::TransitionHash hash{};
  std::string source;  // "--latest-transition", the saved file's path, or "no manifest yet"
};

// `--latest-transition HEX` if given, else verify/latest-transition if it
// exists, else 32 zero bytes (no manifest set yet).
Result<PreviousTransition> ResolvePreviousTransition(const std::optional<std::string>& flag,
                                                     const std::filesystem::path& workspace);

// The Coordinator's history as `verify` gathers it.
struct CoordinatorHistory {
  std::vector<std::string> manifests;  // oldest first, exact bytes
  std::vector<std::string> policies;   // each document the manifests name, once
  std::string latest_transition_hash;  // as the first page named it
  std::string root_ca;                 // PEM, from the first page
  std::string mesh_ca;
  bool awaiting_recovery = false;
  std::string reason;
};

// One attested call each.
using FetchManifestPage = std::function<Result<v1::GetManifestsResponse>(const v1::GetManifestsRequest&)>;
using FetchPolicies = std::function<Result<v1::GetPoliciesResponse>(const v1::GetPoliciesRequest&)>;

// Every page from the latest transition back to the first manifest, then the
// policy documents the manifests name, a bounded batch at a time. Checks
// what the paging relies on: every page holds a manifest, a page that says
// more follow names where (and one that does not, reaches the first
// manifest), at most `max_manifests` in all, and each document hashes to
// what was asked. kValidationFailed / kParse otherwise. Whether the
// manifests chain up to the latest transition is LinkHistory's check.
Result<CoordinatorHistory> FetchHistory(const FetchManifestPage& fetch_page, const FetchPolicies& fetch_policies,
                                        size_t max_manifests = history::kDefaultMaxChainLength);

// The policy hashes a manifest names (the keys of "Policies"), lower-case
// hex; kParse when it is not a JSON object with such keys.
Result<std::vector<history::PolicyHash>> PolicyHashesOf(std::string_view manifest);

// Recomputes the hash chain of the history's manifests (oldest first) and
// requires its end to be latest_transition_hash. Returns T_1..T_n (empty for
// an empty history, whose latest hash must be empty or zero).
// kValidationFailed ("the history does not link up to the latest transition
// ...") or kParse for a malformed hash.
Result<std::vector<history::TransitionHash>> LinkHistory(const CoordinatorHistory& history);

// Rollback detection: `saved` (what an earlier verify saw) must be one of
// `chain` (T_1..T_n). A zero `saved` (saved from an empty history) always
// passes. kValidationFailed naming both the saved and the current latest
// transition otherwise.
Status CheckHistoryExtends(const std::vector<history::TransitionHash>& chain, const history::TransitionHash& saved);

}  // namespace contrast::cli
