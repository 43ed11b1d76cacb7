#include "policy/gen/values.h"

#include <cctype>

namespace contrast::policy::gen {
namespace {

bool IsLowerHex(std::string_view s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

bool ValidPathComponent(std::string_view c) {
  if (c.empty()) return false;
  for (char ch : c) {
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-')) return false;
  }
  return std::isalnum(static_cast<unsigned char>(c.front())) && std::isalnum(static_cast<unsigned char>(c.back()));
}

bool ValidTag(std::string_view tag) {
  if (tag.empty() || tag.size() > 128 || tag[0] == '.' || tag[0] == '-') return false;
  for (char c : tag)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-')) return false;
  return true;
}

bool ValidDomain(std::string_view domain) {
  if (domain.empty()) return false;
  for (char c : domain)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']'))
      return false;
  return true;
}

std::vector<std::string_view> Split(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t end = text.find(sep, start);
    out.push_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return out;
}

}  // namespace

std::string RegexEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  for (char c : text) {
    if (std::string_view("\\.+*?()|[]{}^$").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

Result<ImageName> ParseImageName(std::string_view reference) {
  auto invalid = [&](const std::string& why) {
    return Fail(ErrorCode::kInvalidArgument, "image reference \"" + std::string(reference) + "\": " + why);
  };
  ImageName out;
  std::string_view rest = reference;
  if (auto at = rest.find('@'); at != std::string_view::npos) {
    std::string_view digest = rest.substr(at + 1);
    if (digest.substr(0, 7) != "sha256:" || digest.size() != 71 || !IsLowerHex(digest.substr(7)))
      return invalid("the digest must be sha256: and 64 lower-case hex digits");
    out.digest = std::string(digest);
    rest = rest.substr(0, at);
  }
  size_t slash = rest.rfind('/');
  size_t colon = rest.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    out.tag = std::string(rest.substr(colon + 1));
    if (!ValidTag(out.tag)) return invalid("invalid tag \"" + out.tag + "\"");
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) return invalid("no repository");
  auto parts = Split(rest, '/');
  std::string domain = "docker.io";
  size_t first_path = 0;
  if (parts.size() > 1 && (parts[0].find_first_of(".:") != std::string_view::npos || parts[0] == "localhost")) {
    domain = std::string(parts[0]);
    if (!ValidDomain(domain)) return invalid("invalid registry \"" + domain + "\"");
    first_path = 1;
  }
  std::string path;
  for (size_t i = first_path; i < parts.size(); ++i) {
    if (!ValidPathComponent(parts[i])) return invalid("invalid repository component \"" + std::string(parts[i]) + "\"");
    if (!path.empty()) path += '/';
    path += parts[i];
  }
  if (domain == "docker.io" && path.find('/') == std::string::npos) path = "library/" + path;
  out.name = domain + "/" + path;
  if (out.tag.empty() && out.digest.empty()) out.tag = "latest";
  return out;
}

Text LiteralText(std::string text) { return {TextPiece{false, std::move(text)}}; }
Text PatternText(std::string regex) { return {TextPiece{true, std::move(regex)}}; }

bool IsLiteral(const Text& text) {
  for (auto& p : text)
    if (p.is_pattern) return false;
  return true;
}

std::string JoinLiteral(const Text& text) {
  std::string out;
  for (auto& p : text) out += p.text;
  return out;
}

std::string JoinAsRegex(const Text& text) {
  std::string out;
  for (auto& p : text) out += p.is_pattern ? "(?:" + p.text + ")" : RegexEscape(p.text);
  return out;
}

void Append(Text& to, const Text& more) {
  for (auto& p : more) {
    if (!p.is_pattern && !to.empty() && !to.back().is_pattern) {
      to.back().text += p.text;
    } else {
      to.push_back(p);
    }
  }
}

Text ExpandVariables(std::string_view input, const std::map<std::string, Text>& variables) {
  Text out;
  std::string literal;
  auto flush = [&] {
    if (!literal.empty()) Append(out, LiteralText(std::move(literal)));
    literal.clear();
  };
  size_t i = 0;
  while (i < input.size()) {
    if (input[i] != '$' || i + 1 >= input.size()) {
      literal += input[i++];
      continue;
    }
    char next = input[i + 1];
    if (next == '$') {
      literal += '$';
      i += 2;
    } else if (next == '(') {
      size_t close = input.find(')', i + 2);
      if (close == std::string_view::npos) {
        literal += input.substr(i);
        break;
      }
      std::string name(input.substr(i + 2, close - i - 2));
      auto found = variables.find(name);
      if (found != variables.end()) {
        flush();
        Append(out, found->second);
      } else {
        literal += input.substr(i, close - i + 1);
      }
      i = close + 1;
    } else {
      literal += '$';
      literal += next;
      i += 2;
    }
  }
  flush();
  if (out.empty()) out = LiteralText("");
  return out;
}

std::optional<int64_t> ParseId(std::string_view text) {
  if (text.empty() || text.size() > 10) return std::nullopt;
  int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  if (value > 0xffffffffLL) return std::nullopt;
  return value;
}

std::vector<PasswdEntry> ParsePasswd(std::string_view text) {
  std::vector<PasswdEntry> out;
  for (auto line : Split(text, '\n')) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line[0] == '#') continue;
    auto fields = Split(line, ':');
    if (fields.size() < 4 || fields[0].empty()) continue;
    auto uid = ParseId(fields[2]);
    auto gid = ParseId(fields[3]);
    if (!uid || !gid) continue;
    out.push_back({std::string(fields[0]), *uid, *gid});
  }
  return out;
}

std::vector<GroupEntry> ParseGroup(std::string_view text) {
  std::vector<GroupEntry> out;
  for (auto line : Split(text, '\n')) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line[0] == '#') continue;
    auto fields = Split(line, ':');
    if (fields.size() < 3 || fields[0].empty()) continue;
    auto gid = ParseId(fields[2]);
    if (!gid) continue;
    GroupEntry entry{std::string(fields[0]), *gid, {}};
    if (fields.size() >= 4) {
      for (auto member : Split(fields[3], ','))
        if (!member.empty()) entry.members.emplace_back(member);
    }
    out.push_back(std::move(entry));
  }
  return out;
}

}  // namespace contrast::policy::gen
