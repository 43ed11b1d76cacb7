// Regular-expression builtins. Go's regexp syntax is RE2's, and RE2 matches
// in linear time, so patterns and subjects from requests cannot make an
// evaluation blow up. Match iteration, splitting and replacement follow Go's
// regexp package, which OPA uses, including its handling of empty matches.
#include <re2/re2.h>

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#include "policy/rego/builtins.h"
#include "policy/rego/builtins_text.h"

namespace contrast::policy::rego {
namespace {

using text::BuiltinError;
using text::IntOperand;
using text::StringOperand;

// Go's message for each parse failure ("regexp/syntax" ErrorCode strings).
std::string_view GoErrorText(RE2::ErrorCode code) {
  switch (code) {
    case RE2::ErrorBadEscape: return "invalid escape sequence";
    case RE2::ErrorBadCharClass: return "invalid character class";
    case RE2::ErrorBadCharRange: return "invalid character class range";
    case RE2::ErrorMissingBracket: return "missing closing ]";
    case RE2::ErrorMissingParen: return "missing closing )";
    case RE2::ErrorUnexpectedParen: return "unexpected )";
    case RE2::ErrorTrailingBackslash: return "trailing backslash at end of expression";
    case RE2::ErrorRepeatArgument: return "missing argument to repetition operator";
    case RE2::ErrorRepeatSize: return "invalid repeat count";
    case RE2::ErrorRepeatOp: return "invalid nested repetition operator";
    case RE2::ErrorBadPerlOp: return "invalid or unsupported Perl syntax";
    case RE2::ErrorBadUTF8: return "invalid UTF-8";
    case RE2::ErrorBadNamedCapture: return "invalid named capture";
    case RE2::ErrorPatternTooLarge: return "expression too large";
    default: return "regexp/syntax: internal error";
  }
}

// Go accepts (?<name>re) as well as (?P<name>re); this RE2 only the latter.
std::string ToRe2Syntax(std::string_view pattern) {
  std::string out;
  out.reserve(pattern.size() + 8);
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      out.push_back(c);
      out.push_back(pattern[++i]);
      continue;
    }
    if (in_class) {
      if (c == ']') in_class = false;
      out.push_back(c);
      continue;
    }
    if (c == '[') {
      in_class = true;
      out.push_back(c);
      // A ']' right after '[' or '[^' is a literal member.
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') out.push_back(pattern[++i]);
      if (i + 1 < pattern.size() && pattern[i + 1] == ']') out.push_back(pattern[++i]);
      continue;
    }
    if (c == '(' && pattern.substr(i + 1, 2) == "?<" && i + 3 < pattern.size() && pattern[i + 3] != '=' &&
        pattern[i + 3] != '!') {
      out += "(?P<";
      i += 2;
      continue;
    }
    out.push_back(c);
  }
  return out;
}

using Regex = std::shared_ptr<const RE2>;

// Compiled patterns shared by all evaluations. Bounded, so hostile inputs
// with ever new patterns cannot grow memory without limit: patterns live in
// two generations; a hit in the older one moves the pattern to the recent
// one, and when the recent generation is full it becomes the older one (the
// previous older one is dropped). Patterns a policy keeps using therefore
// stay compiled however many others come and go.
class RegexCache {
 public:
  static RegexCache& Instance() {
    static RegexCache* const cache = new RegexCache();
    return *cache;
  }

  // The compiled pattern, or Go's parse error text ("error parsing regexp: ...").
  Result<Regex> Get(std::string_view pattern) {
    {
      std::shared_lock lock(mutex_);
      if (auto it = recent_.find(pattern); it != recent_.end()) return it->second;
    }
    Regex compiled;
    {
      std::unique_lock lock(mutex_);
      if (auto it = recent_.find(pattern); it != recent_.end()) return it->second;
      if (auto it = older_.find(pattern); it != older_.end()) {
        compiled = it->second;
        Insert(pattern, compiled);
        return compiled;
      }
    }
    RE2::Options options;
    options.set_log_errors(false);
    compiled = std::make_shared<const RE2>(ToRe2Syntax(pattern), options);
    if (!compiled->ok()) {
      return Fail(ErrorCode::kFailedPrecondition,
                  "error parsing regexp: " + std::string(GoErrorText(compiled->error_code())) + ": `" +
                      compiled->error_arg() + "`");
    }
    std::unique_lock lock(mutex_);
    Insert(pattern, compiled);
    return compiled;
  }

 private:
  static constexpr size_t kGeneration = 256;  // at most twice this many patterns

  void Insert(std::string_view pattern, const Regex& compiled) {
    if (recent_.size() >= kGeneration) {
      older_ = std::move(recent_);
      recent_.clear();
    }
    recent_.insert_or_assign(std::string(pattern), compiled);
  }

  // Looked up by string_view, so a lookup copies no pattern.
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Map = std::unordered_map<std::string, Regex, Hash, std::equal_to<>>;

  std::shared_mutex mutex_;
  Map recent_;
  Map older_;
};

// The patterns this thread used last, in front of the shared cache: a hit
// costs one comparison of the pattern, no lock and no hash of the whole
// pattern (policies match the same few long patterns over and over).
class RecentRegexes {
 public:
  const Regex* Find(std::string_view pattern) {
    Entry& entry = entries_[Slot(pattern)];
    return entry.regex && entry.pattern == pattern ? &entry.regex : nullptr;
  }
  void Remember(std::string_view pattern, Regex regex) {
    Entry& entry = entries_[Slot(pattern)];
    entry.pattern.assign(pattern);
    entry.regex = std::move(regex);
  }

 private:
  static constexpr size_t kSlots = 64;
  struct Entry {
    std::string pattern;
    Regex regex;
  };
  // The length and a few bytes from the end, where generated patterns differ.
  static size_t Slot(std::string_view pattern) {
    size_t h = pattern.size() * 0x9E3779B97F4A7C15ull;
    for (size_t i = 1; i <= 8 && i <= pattern.size(); ++i) {
      h = (h ^ static_cast<uint8_t>(pattern[pattern.size() - i])) * 0x100000001B3ull;
    }
    if (pattern.size() > 16) h = (h ^ static_cast<uint8_t>(pattern[pattern.size() / 2])) * 0x100000001B3ull;
    return (h >> 32) % kSlots;
  }
  std::array<Entry, kSlots> entries_;
};

Result<Regex> Compile(std::string_view builtin, std::string_view pattern) {
  thread_local RecentRegexes recent;
  if (const Regex* hit = recent.Find(pattern)) return *hit;
  auto re = RegexCache::Instance().Get(pattern);
  if (!re) return Fail(BuiltinError(builtin, re.error().message));
  recent.Remember(pattern, *re);
  return re;
}

// The pattern values this thread used last, by identity (Value::identity):
// policies pass the same constant or computed pattern objects over and over,
// and finding one costs a pointer comparison instead of a look at the
// pattern's text. An entry holds its value, so the address cannot be reused
// meanwhile; long patterns are not kept.
class RecentPatternValues {
 public:
  const Regex* Find(const Value& pattern) const {
    const Entry& entry = entries_[Slot(pattern.identity())];
    return entry.regex && entry.pattern.identity() == pattern.identity() ? &entry.regex : nullptr;
  }
  void Remember(const Value& pattern, Regex regex) {
    if (pattern.as_string().size() > kMaxPattern) return;
    Entry& entry = entries_[Slot(pattern.identity())];
    entry.pattern = pattern;
    entry.regex = std::move(regex);
  }

 private:
  static constexpr size_t kSlots = 256;
  static constexpr size_t kMaxPattern = 4096;
  struct Entry {
    Value pattern;
    Regex regex;
  };
  static size_t Slot(const void* identity) {
    return static_cast<size_t>((reinterpret_cast<uintptr_t>(identity) * 0x9E3779B97F4A7C15ull) >> 32) % kSlots;
  }
  std::array<Entry, kSlots> entries_;
};

// Compile for a pattern operand (a string value).
Result<Regex> Compile(std::string_view builtin, const Value& pattern) {
  thread_local RecentPatternValues recent;
  if (const Regex* hit = recent.Find(pattern)) return *hit;
  auto re = Compile(builtin, std::string_view(pattern.as_string()));
  if (re) recent.Remember(pattern, *re);
  return re;
}

// One match: byte offsets of the whole match and of each group (-1 when a
// group did not participate).
using MatchOffsets = std::vector<std::ptrdiff_t>;

// Go's regexp.allMatches: successive leftmost matches, skipping an empty
// match right after the previous match, at most `limit` (< 0: all).
std::vector<MatchOffsets> FindAll(const RE2& re, std::string_view s, int64_t limit) {
  std::vector<MatchOffsets> out;
  if (limit == 0) return out;
  const int groups = 1 + re.NumberOfCapturingGroups();
  std::vector<re2::StringPiece> pieces(static_cast<size_t>(groups));
  const re2::StringPiece subject(s.data(), s.size());
  std::ptrdiff_t previous_end = -1;
  for (size_t pos = 0; pos <= s.size() && (limit < 0 || static_cast<int64_t>(out.size()) < limit);) {
    if (!re.Match(subject, pos, s.size(), RE2::UNANCHORED, pieces.data(), groups)) break;
    const std::ptrdiff_t begin = pieces[0].data() - s.data();
    const std::ptrdiff_t end = begin + static_cast<std::ptrdiff_t>(pieces[0].size());
    bool accept = true;
    if (end == static_cast<std::ptrdiff_t>(pos)) {
      if (begin == previous_end) accept = false;
      pos += pos < s.size() ? text::DecodeRune(s, pos).width : 1;
    } else {
      pos = static_cast<size_t>(end);
    }
    previous_end = end;
    if (!accept) continue;
    MatchOffsets offsets;
    offsets.reserve(static_cast<size_t>(groups) * 2);
    for (const re2::StringPiece& piece : pieces) {
      if (piece.data() == nullptr) {
        offsets.push_back(-1);
        offsets.push_back(-1);
      } else {
        const std::ptrdiff_t b = piece.data() - s.data();
        offsets.push_back(b);
        offsets.push_back(b + static_cast<std::ptrdiff_t>(piece.size()));
      }
    }
    out.push_back(std::move(offsets));
  }
  return out;
}

std::string Slice(std::string_view s, std::ptrdiff_t begin, std::ptrdiff_t end) {
  if (begin < 0) return "";
  return std::string(s.substr(static_cast<size_t>(begin), static_cast<size_t>(end - begin)));
}

// Go's Regexp.Expand: $1, $name, ${name}, $$; a malformed reference is
// copied as text.
void Expand(std::string& out, const RE2& re, std::string_view tmpl, std::string_view s, const MatchOffsets& m) {
  const auto is_name_char = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  };
  while (!tmpl.empty()) {
    const size_t dollar = tmpl.find('$');
    if (dollar == std::string_view::npos) break;
    out.append(tmpl.substr(0, dollar));
    tmpl.remove_prefix(dollar + 1);
    if (!tmpl.empty() && tmpl[0] == '$') {
      out.push_back('$');
      tmpl.remove_prefix(1);
      continue;
    }
    const bool brace = !tmpl.empty() && tmpl[0] == '{';
    std::string_view rest = brace ? tmpl.substr(1) : tmpl;
    size_t length = 0;
    while (length < rest.size() && is_name_char(rest[length])) ++length;
    if (length == 0 || (brace && (length >= rest.size() || rest[length] != '}'))) {
      out.push_back('$');
      continue;
    }
    const std::string_view name = rest.substr(0, length);
    tmpl = rest.substr(length + (brace ? 1 : 0));
    int64_t number = 0;
    for (char c : name) {
      if (c < '0' || c > '9' || number >= 100000000) {
        number = -1;
        break;
      }
      number = number * 10 + (c - '0');
    }
    if (name.size() > 1 && name[0] == '0') number = -1;
    if (number < 0) {
      const auto& names = re.NamedCapturingGroups();
      auto it = names.find(std::string(name));
      if (it == names.end()) continue;
      number = it->second;
    }
    const auto index = static_cast<size_t>(number) * 2;
    if (index + 1 < m.size() && m[index] >= 0) out += Slice(s, m[index], m[index + 1]);
  }
  out.append(tmpl);
}

// Go's Regexp.ReplaceAllString.
std::string ReplaceAll(const RE2& re, std::string_view s, std::string_view replacement) {
  const int groups = 1 + re.NumberOfCapturingGroups();
  std::vector<re2::StringPiece> pieces(static_cast<size_t>(groups));
  const re2::StringPiece subject(s.data(), s.size());
  std::string out;
  size_t last_end = 0;
  for (size_t pos = 0; pos <= s.size();) {
    if (!re.Match(subject, pos, s.size(), RE2::UNANCHORED, pieces.data(), groups)) break;
    MatchOffsets m;
    for (const re2::StringPiece& piece : pieces) {
      const std::ptrdiff_t b = piece.data() == nullptr ? -1 : piece.data() - s.data();
      m.push_back(b);
      m.push_back(b < 0 ? -1 : b + static_cast<std::ptrdiff_t>(piece.size()));
    }
    const auto begin = static_cast<size_t>(m[0]);
    const auto end = static_cast<size_t>(m[1]);
    out.append(s.substr(last_end, begin - last_end));
    // No replacement for an empty match right after the previous match.
    if (end > last_end || begin == 0) Expand(out, re, replacement, s, m);
    last_end = end;
    const size_t width = pos < s.size() ? text::DecodeRune(s, pos).width : 0;
    if (pos + width > end) {
      pos += width;
    } else if (pos + 1 > end) {
      ++pos;
    } else {
      pos = end;
    }
  }
  out.append(s.substr(std::min(last_end, s.size())));
  return out;
}

Value StringArray(std::vector<std::string> items) {
  Value::Array out;
  out.reserve(items.size());
  for (std::string& item : items) out.push_back(Value::String(std::move(item)));
  return Value::FromArray(std::move(out));
}

Result<Value> Match(std::string_view name, std::span<const Value> ops) {
  auto pattern = StringOperand(name, ops, 0);
  if (!pattern) return Fail(pattern.error());
  auto subject = StringOperand(name, ops, 1);
  if (!subject) return Fail(subject.error());
  auto re = Compile(name, ops[0]);
  if (!re) return Fail(re.error());
  return Value::Bool(RE2::PartialMatch(re2::StringPiece(subject->data(), subject->size()), **re));
}

Result<Value> IsValid(std::span<const Value> ops) {
  if (!ops[0].is_string()) return Value::Bool(false);
  return Value::Bool(RegexCache::Instance().Get(ops[0].as_string()).has_value());
}

Result<Value> Split(std::span<const Value> ops) {
  constexpr std::string_view kName = "regex.split";
  auto pattern = StringOperand(kName, ops, 0);
  if (!pattern) return Fail(pattern.error());
  auto subject = StringOperand(kName, ops, 1);
  if (!subject) return Fail(subject.error());
  auto re = Compile(kName, ops[0]);
  if (!re) return Fail(re.error());
  const std::string_view s = *subject;
  if (!pattern->empty() && s.empty()) return StringArray({""});
  std::vector<std::string> parts;
  size_t begin = 0, end = 0;
  for (const MatchOffsets& m : FindAll(**re, s, -1)) {
    end = static_cast<size_t>(m[0]);
    if (m[1] != 0) parts.emplace_back(s.substr(begin, end - begin));
    begin = static_cast<size_t>(m[1]);
  }
  if (end != s.size()) parts.emplace_back(s.substr(begin));
  return StringArray(std::move(parts));
}

Result<Value> FindN(std::span<const Value> ops, bool submatches) {
  const std::string_view name = submatches ? "regex.find_all_string_submatch_n" : "regex.find_n";
  auto pattern = StringOperand(name, ops, 0);
  if (!pattern) return Fail(pattern.error());
  auto subject = StringOperand(name, ops, 1);
  if (!subject) return Fail(subject.error());
  auto limit = IntOperand(name, ops, 2);
  if (!limit) return Fail(limit.error());
  auto re = Compile(name, ops[0]);
  if (!re) return Fail(re.error());
  Value::Array out;
  for (const MatchOffsets& m : FindAll(**re, *subject, *limit)) {
    if (!submatches) {
      out.push_back(Value::String(Slice(*subject, m[0], m[1])));
      continue;
    }
    std::vector<std::string> groups;
    for (size_t g = 0; g + 1 < m.size(); g += 2) groups.push_back(Slice(*subject, m[g], m[g + 1]));
    out.push_back(StringArray(std::move(groups)));
  }
  return Value::FromArray(std::move(out));
}

Result<Value> Replace(std::span<const Value> ops) {
  constexpr std::string_view kName = "regex.replace";
  auto subject = StringOperand(kName, ops, 0);
  if (!subject) return Fail(subject.error());
  auto pattern = StringOperand(kName, ops, 1);
  if (!pattern) return Fail(pattern.error());
  auto replacement = StringOperand(kName, ops, 2);
  if (!replacement) return Fail(replacement.error());
  auto re = Compile(kName, ops[1]);
  if (!re) return Fail(re.error());
  return Value::String(ReplaceAll(**re, *subject, *replacement));
}

// regex.template_match: text outside the delimiters is literal, text inside
// is a regular expression; the whole template must match.
Result<Value> TemplateMatch(std::span<const Value> ops) {
  constexpr std::string_view kName = "regex.template_match";
  std::array<std::string_view, 4> args;
  for (size_t i = 0; i < args.size(); ++i) {
    auto s = StringOperand(kName, ops, i);
    if (!s) return Fail(s.error());
    args[i] = *s;
  }
  const auto [tmpl, subject, start, end] = args;
  if (start.size() != 1) {
    return Fail(BuiltinError(kName, "start delimiter has to be exactly one character long but is " +
                                        std::to_string(start.size()) + " long"));
  }
  if (end.size() != 1) {
    // OPA reports the start delimiter's length here.
    return Fail(BuiltinError(
        kName, "end delimiter has to be exactly one character long but is " + std::to_string(start.size()) + " long"));
  }
  std::string regex = "^";
  int level = 0;
  size_t open = 0, literal_begin = 0;
  for (size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] == start[0]) {
      if (++level == 1) open = i;
    } else if (tmpl[i] == end[0]) {
      if (--level == 0) {
        const std::string_view literal = tmpl.substr(literal_begin, open - literal_begin);
        const std::string inner(tmpl.substr(open + 1, i - open - 1));
        auto alone = Compile(kName, "^" + inner + "$");
        if (!alone) return Fail(alone.error());
        regex += RE2::QuoteMeta(re2::StringPiece(literal.data(), literal.size())) + "(" + inner + ")";
        literal_begin = i + 1;
      } else if (level < 0) {
        break;
      }
    }
  }
  if (level != 0) {
    return Fail(BuiltinError(kName, "unbalanced braces in \"" + std::string(tmpl) + "\""));
  }
  const std::string_view rest = tmpl.substr(literal_begin);
  regex += RE2::QuoteMeta(re2::StringPiece(rest.data(), rest.size())) + "$";
  auto re = Compile(kName, regex);
  if (!re) return Fail(re.error());
  return Value::Bool(RE2::PartialMatch(re2::StringPiece(subject.data(), subject.size()), **re));
}

// ---------------------------------------------------------------------------
// glob.match: gobwas/glob syntax translated to RE2. `*` and `?` stop at the
// delimiters, `**` does not; [abc], [!a-z], {alt1,alt2} and \ escapes.

void AppendClassRune(std::string& out, char32_t r) {
  if (r == '\\' || r == ']' || r == '[' || r == '^' || r == '-') out.push_back('\\');
  text::AppendRune(out, r);
}

Result<std::string> GlobToRegex(std::string_view pattern, const std::vector<char32_t>& delimiters) {
  std::string not_delimiter;
  if (delimiters.empty()) {
    not_delimiter = "(?s:.)";
  } else {
    not_delimiter = "[^";
    for (char32_t d : delimiters) AppendClassRune(not_delimiter, d);
    not_delimiter += "]";
  }
  std::string out = "(?s)^";
  int braces = 0;
  for (size_t i = 0; i < pattern.size();) {
    const text::DecodedRune r = text::DecodeRune(pattern, i);
    i += r.width;
    switch (r.rune) {
      case '*':
        if (i < pattern.size() && pattern[i] == '*') {
          while (i < pattern.size() && pattern[i] == '*') ++i;
          out += ".*";
        } else {
          out += not_delimiter + "*";
        }
        break;
      case '?': out += not_delimiter; break;
      case '[': {
        std::string cls = "[";
        if (i < pattern.size() && pattern[i] == '!') {
          cls += "^";
          ++i;
        }
        bool closed = false, any = false;
        while (i < pattern.size()) {
          text::DecodedRune c = text::DecodeRune(pattern, i);
          i += c.width;
          if (c.rune == ']') {
            closed = true;
            break;
          }
          // An escaped '-' is a member, never a range operator.
          const bool escaped = c.rune == '\\' && i < pattern.size();
          if (escaped) {
            c = text::DecodeRune(pattern, i);
            i += c.width;
          }
          if (!escaped && c.rune == '-' && any && i < pattern.size() && pattern[i] != ']') {
            cls += "-";
            continue;
          }
          AppendClassRune(cls, c.rune);
          any = true;
        }
        if (!closed || !any) return Fail(ErrorCode::kFailedPrecondition, "unexpected end of input");
        out += cls + "]";
        break;
      }
      case '{':
        ++braces;
        out += "(?:";
        break;
      case '}':
        if (braces > 0) {
          --braces;
          out += ")";
        } else {
          out += "\\}";
        }
        break;
      case ',': out += braces > 0 ? "|" : ","; break;
      case '\\': {
        if (i >= pattern.size()) return Fail(ErrorCode::kFailedPrecondition, "unexpected end of input");
        const text::DecodedRune escaped = text::DecodeRune(pattern, i);
        i += escaped.width;
        std::string literal;
        text::AppendRune(literal, escaped.rune);
        out += RE2::QuoteMeta(literal);
        break;
      }
      default: {
        std::string literal;
        text::AppendRune(literal, r.rune);
        out += RE2::QuoteMeta(literal);
      }
    }
  }
  if (braces != 0) return Fail(ErrorCode::kFailedPrecondition, "unexpected end of input");
  return out + "$";
}

Result<Value> GlobMatch(std::span<const Value> ops) {
  constexpr std::string_view kName = "glob.match";
  auto pattern = StringOperand(kName, ops, 0);
  if (!pattern) return Fail(pattern.error());
  std::vector<char32_t> delimiters;
  if (ops[1].is_array()) {
    for (const Value& d : ops[1].as_array()) {
      if (!d.is_string()) {
        return Fail(text::OperandError(
            kName, 2, "must be array of strings but got array containing " + std::string(KindName(d.kind()))));
      }
      const std::vector<char32_t> runes = text::ToRunes(d.as_string());
      if (runes.size() != 1)
        return Fail(text::OperandError(kName, 2, "must be array of runes but got array containing string"));
      delimiters.push_back(runes[0]);
    }
    if (delimiters.empty()) delimiters.push_back('.');
  } else if (!ops[1].is_null()) {
    return Fail(OperandTypeError(kName, 2, "one of {array, null}", ops[1]));
  }
  auto subject = StringOperand(kName, ops, 2);
  if (!subject) return Fail(subject.error());
  // Go's path.ErrBadPattern text, whatever the pattern's fault.
  auto regex = GlobToRegex(*pattern, delimiters);
  if (!regex) return Fail(BuiltinError(kName, "syntax error in pattern"));
  auto re = RegexCache::Instance().Get(*regex);
  if (!re) return Fail(BuiltinError(kName, "syntax error in pattern"));
  return Value::Bool(RE2::PartialMatch(re2::StringPiece(subject->data(), subject->size()), **re));
}

// glob.quote_meta: a backslash before each of gobwas's special runes.
Result<Value> GlobQuoteMeta(std::span<const Value> ops) {
  auto pattern = StringOperand("glob.quote_meta", ops, 0);
  if (!pattern) return Fail(pattern.error());
  std::string out;
  out.reserve(pattern->size());
  for (char c : *pattern) {
    if (c == '*' || c == '?' || c == '\\' || c == '[' || c == ']' || c == '{' || c == '}') out.push_back('\\');
    out.push_back(c);
  }
  return Value::String(std::move(out));
}

// ---------------------------------------------------------------------------
// regex.globs_match: do two patterns in a small regex dialect (literals, `.`,
// [sets with ranges], `\` escapes, `*` and `+` after an element) both match
// some non-empty string? Each pattern is a chain of elements, so the check is
// a search of the product of the two chains.

struct GlobElement {
  bool any = false;                                   // `.`
  std::vector<std::pair<char32_t, char32_t>> ranges;  // inclusive
  char flag = 0;                                      // 0, '*' or '+'
};

bool Overlaps(const GlobElement& a, const GlobElement& b) {
  if (a.any || b.any) return true;
  for (const auto& [lo1, hi1] : a.ranges) {
    for (const auto& [lo2, hi2] : b.ranges) {
      if (lo1 <= hi2 && lo2 <= hi1) return true;
    }
  }
  return false;
}

// Error texts as OPA reports them (from the glob-intersection library).
Error GlobsInputError(std::string_view pattern, size_t pos, std::string_view what) {
  return BuiltinError("regex.globs_match", "input:" + std::string(pattern) + ", pos:" + std::to_string(pos) + ", " +
                                               std::string(what) + ": the input provided is invalid");
}

std::string QuoteRune(char32_t r) {
  std::string out = "'";
  text::AppendRune(out, r);
  return out + "'";
}

Result<std::vector<GlobElement>> ParseGlobChain(std::string_view pattern) {
  const std::vector<char32_t> runes = text::ToRunes(pattern);
  std::vector<GlobElement> chain;
  // Reads the rune after a backslash at `i`.
  const auto escaped = [&](size_t& i) -> Result<char32_t> {
    if (i + 1 >= runes.size()) return Fail(GlobsInputError(pattern, i, "input ends with a \\\\ (escape) character"));
    ++i;
    return runes[i];
  };
  for (size_t i = 0; i < runes.size(); ++i) {
    const char32_t r = runes[i];
    if (r == '*' || r == '+') {
      if (chain.empty() || chain.back().flag != 0) {
        return Fail(GlobsInputError(pattern, i + 1,
                                    std::string("flag '") + static_cast<char>(r) + "' without a preceding element"));
      }
      chain.back().flag = static_cast<char>(r);
      continue;
    }
    if (r == ']') return Fail(GlobsInputError(pattern, i + 1, "set-close ']' with no preceding '['"));
    GlobElement element;
    if (r == '.') {
      element.any = true;
    } else if (r == '\\') {
      auto c = escaped(i);
      if (!c) return Fail(c.error());
      element.ranges.emplace_back(*c, *c);
    } else if (r == '[') {
      bool closed = false;
      for (++i; i < runes.size(); ++i) {
        char32_t lo = runes[i];
        if (lo == ']') {
          closed = true;
          break;
        }
        if (lo == '\\') {
          auto c = escaped(i);
          if (!c) return Fail(c.error());
          lo = *c;
        }
        char32_t hi = lo;
        if (i + 2 < runes.size() && runes[i + 1] == '-' && runes[i + 2] != ']') {
          i += 2;
          hi = runes[i];
          if (hi == '\\') {
            auto c = escaped(i);
            if (!c) return Fail(c.error());
            hi = *c;
          }
          if (hi < lo) {
            return Fail(GlobsInputError(
                pattern, i + 1,
                "range is out of order: " + QuoteRune(hi) + " comes before " + QuoteRune(lo) + " in Unicode"));
          }
        }
        element.ranges.emplace_back(lo, hi);
      }
      if (!closed) return Fail(GlobsInputError(pattern, runes.size(), "found [ without matching ]"));
      if (element.ranges.empty()) return Fail(GlobsInputError(pattern, i + 1, "empty set"));
    } else {
      element.ranges.emplace_back(r, r);
    }
    chain.push_back(std::move(element));
  }
  return chain;
}

// Breadth-first search over (position in a, position in b, consumed any
// character yet); the product is bounded so hostile patterns cannot exhaust
// memory.
Result<bool> ChainsIntersect(const std::vector<GlobElement>& a, const std::vector<GlobElement>& b) {
  constexpr size_t kMaxStates = size_t{1} << 24;
  const size_t n = a.size() + 1, m = b.size() + 1;
  if (n > kMaxStates / m / 2) return Fail(BuiltinError("regex.globs_match", "patterns too long"));
  std::vector<bool> seen(n * m * 2, false);
  std::vector<size_t> queue;
  const auto push = [&](size_t i, size_t j, size_t f) {
    const size_t id = (i * m + j) * 2 + f;
    if (!seen[id]) {
      seen[id] = true;
      queue.push_back(id);
    }
  };
  push(0, 0, 0);
  for (size_t head = 0; head < queue.size(); ++head) {
    const size_t id = queue[head];
    const size_t f = id % 2, i = id / 2 / m, j = id / 2 % m;
    if (i == a.size() && j == b.size() && f == 1) return true;
    if (i < a.size() && a[i].flag == '*') push(i + 1, j, f);
    if (j < b.size() && b[j].flag == '*') push(i, j + 1, f);
    if (i == a.size() || j == b.size() || !Overlaps(a[i], b[j])) continue;
    push(i + 1, j + 1, 1);
    if (a[i].flag != 0) push(i, j + 1, 1);
    if (b[j].flag != 0) push(i + 1, j, 1);
    if (a[i].flag != 0 && b[j].flag != 0) push(i, j, 1);
  }
  return false;
}

Result<Value> GlobsMatch(std::span<const Value> ops) {
  constexpr std::string_view kName = "regex.globs_match";
  auto first = StringOperand(kName, ops, 0);
  if (!first) return Fail(first.error());
  auto second = StringOperand(kName, ops, 1);
  if (!second) return Fail(second.error());
  auto a = ParseGlobChain(*first);
  if (!a) return Fail(a.error());
  auto b = ParseGlobChain(*second);
  if (!b) return Fail(b.error());
  auto result = ChainsIntersect(*a, *b);
  if (!result) return Fail(result.error());
  return Value::Bool(*result);
}

void Add(BuiltinRegistry& registry, std::string name, int arity, BuiltinFunction function) {
  registry.Add(Builtin{std::move(name), arity, std::move(function), false});
}

}  // namespace

void RegisterRegexBuiltins(BuiltinRegistry& registry) {
  Add(registry, "regex.match", 2, [](std::span<const Value> ops) { return Match("regex.match", ops); });
  Add(registry, "re_match", 2, [](std::span<const Value> ops) { return Match("re_match", ops); });
  Add(registry, "regex.is_valid", 1, IsValid);
  Add(registry, "regex.split", 2, Split);
  Add(registry, "regex.find_n", 3, [](std::span<const Value> ops) { return FindN(ops, false); });
  Add(registry, "regex.find_all_string_submatch_n", 3, [](std::span<const Value> ops) { return FindN(ops, true); });
  Add(registry, "regex.replace", 3, Replace);
  Add(registry, "regex.template_match", 4, TemplateMatch);
  Add(registry, "glob.match", 3, GlobMatch);
  Add(registry, "glob.quote_meta", 1, GlobQuoteMeta);
  Add(registry, "regex.globs_match", 2, GlobsMatch);
}

}  // namespace contrast::policy::rego
