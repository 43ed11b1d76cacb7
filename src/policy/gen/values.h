// Small pieces of the generator that are worth testing on their own:
// regex escaping, image names as the CRI reports them, Kubernetes `$(VAR)`
// expansion, and /etc/passwd and /etc/group lookups. Private to the module
// (and its tests).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace contrast::policy::gen {

// `text` as an RE2 expression that matches exactly it.
std::string RegexEscape(std::string_view text);

// An image reference split the way containerd names the image:
// "nginx" is docker.io/library/nginx with tag "latest".
struct ImageName {
  std::string name;    // "docker.io/library/nginx", "registry.k8s.io/pause"
  std::string tag;     // "latest" when neither tag nor digest is given; "" with a bare digest
  std::string digest;  // "sha256:<64 hex>" or ""
};
Result<ImageName> ParseImageName(std::string_view reference);

// A value known exactly, or only by a pattern (a downward-API field the
// cluster fills in): a sequence of literal and regex pieces.
struct TextPiece {
  bool is_pattern = false;
  std::string text;
};
using Text = std::vector<TextPiece>;

Text LiteralText(std::string text);
Text PatternText(std::string regex);
bool IsLiteral(const Text& text);
std::string JoinLiteral(const Text& text);  // only for literal texts
std::string JoinAsRegex(const Text& text);  // unanchored
void Append(Text& to, const Text& more);

// Kubernetes' expansion of $(VAR) in command, args and env values: known
// variables are replaced, "$$" is a literal "$", anything else stays.
Text ExpandVariables(std::string_view input, const std::map<std::string, Text>& variables);

// /etc/passwd and /etc/group of an image.
struct PasswdEntry {
  std::string name;
  int64_t uid = 0;
  int64_t gid = 0;
};
struct GroupEntry {
  std::string name;
  int64_t gid = 0;
  std::vector<std::string> members;
};
// Malformed lines are skipped, as the C library does.
std::vector<PasswdEntry> ParsePasswd(std::string_view text);
std::vector<GroupEntry> ParseGroup(std::string_view text);
// A decimal id from 0 to 2^32-1, or nullopt.
std::optional<int64_t> ParseId(std::string_view text);

}  // namespace contrast::policy::gen
