// Internal to kube/: reading yaml-cpp trees without changing them.
//
// yaml-cpp's non-const operator[] turns a null node into a map and adds
// pending keys, and its const operator[] throws on scalars and returns
// "zombie" nodes that throw on most calls. Every lookup goes through Child.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>

#include <yaml-cpp/yaml.h>

namespace contrast::kube::internal {

// The value of `key` in `map`, or nullopt when `map` is not a map or has no
// such key. The returned node aliases the tree.
inline std::optional<YAML::Node> Child(const YAML::Node& map, std::string_view key) {
  if (!map.IsDefined() || !map.IsMap()) return std::nullopt;
  for (auto it = map.begin(); it != map.end(); ++it) {
    const YAML::Node k = it->first;
    if (k.IsScalar() && k.Scalar() == key) return YAML::Node(it->second);
  }
  return std::nullopt;
}

// True when `node` is absent or null: what Kubernetes treats as "not set".
inline bool IsUnset(const std::optional<YAML::Node>& node) { return !node || node->IsNull(); }

// A plain scalar kubectl reads as null, a boolean or a number, so refuses
// where the API wants a string (annotations). Precise, unlike the cautious
// MayReadAsNonString of kube/emit.h: "1.2.3" or "80Mi" are strings.
inline bool IsClearlyNonString(std::string_view v) {
  static const std::set<std::string_view> kWords = {
      "~",  "null", "Null", "NULL", "y",   "Y",   "yes", "Yes",  "YES",  "n",    "N",     "no",    "No",
      "NO", "on",   "On",   "ON",   "off", "Off", "OFF", "true", "True", "TRUE", "false", "False", "FALSE"};
  if (kWords.contains(v)) return true;
  std::string_view digits = v;
  if (!digits.empty() && (digits.front() == '-' || digits.front() == '+')) digits.remove_prefix(1);
  if (digits.empty() || digits == ".") return false;
  bool seen_dot = false;
  for (char c : digits) {
    if (c == '.' && !seen_dot) {
      seen_dot = true;
    } else if (c < '0' || c > '9') {
      return false;
    }
  }
  return true;
}

// A new string scalar (tag "!": it stays a string when written).
inline YAML::Node StringNode(std::string_view value) {
  YAML::Node node{std::string(value)};
  node.SetTag("!");
  return node;
}

}  // namespace contrast::kube::internal
