#include "kube/emit.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>

namespace contrast::kube {
namespace {

// Loaded documents are at most 64 levels deep; patching adds a few. The bound
// only stops runaway recursion on trees built through the API.
constexpr int kMaxTreeDepth = 256;
// YAML limits implicit keys to 1024 characters.
constexpr size_t kMaxKeyLength = 1024;
constexpr std::string_view kYamlTagPrefix = "tag:yaml.org,2002:";

bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
           return lower(x) == lower(y);
         });
}

// A UTF-8 sequence at the start of `s`: its code point and length, or
// length 0 when the bytes are not valid UTF-8.
struct CodePoint {
  uint32_t value = 0;
  size_t length = 0;
};

CodePoint DecodeUtf8(std::string_view s) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
  const uint8_t b0 = byte(0);
  size_t length = 0;
  uint32_t value = 0;
  uint32_t minimum = 0;
  if (b0 < 0x80) return {b0, 1};
  if ((b0 & 0xE0) == 0xC0) {
    length = 2, value = b0 & 0x1F, minimum = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    length = 3, value = b0 & 0x0F, minimum = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    length = 4, value = b0 & 0x07, minimum = 0x10000;
  } else {
    return {};
  }
  if (s.size() < length) return {};
  for (size_t i = 1; i < length; ++i) {
    if ((byte(i) & 0xC0) != 0x80) return {};
    value = (value << 6) | (byte(i) & 0x3F);
  }
  if (value < minimum || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) return {};
  return {value, length};
}

// Code points that YAML readers may take as line breaks, byte order marks or
// controls: never written raw.
bool IsSpecialCodePoint(uint32_t cp) {
  return (cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029 || cp == 0xFEFF;
}

// True when every byte is printable: ASCII without controls (tab allowed when
// `allow_tab`), or valid UTF-8 without special code points.
bool IsPrintableText(std::string_view s, bool allow_tab) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<uint8_t>(s[i]);
    if (c < 0x80) {
      if ((c < 0x20 && !(allow_tab && c == '\t')) || c == 0x7F) return false;
      ++i;
      continue;
    }
    const CodePoint cp = DecodeUtf8(s.substr(i));
    if (cp.length == 0 || IsSpecialCodePoint(cp.value)) return false;
    i += cp.length;
  }
  return true;
}

bool IsYamlNumberChar(char c) {
  return IsAsciiDigit(c) || c == '_' || c == '.' || c == ':' || c == 'e' || c == 'E' || c == '+' || c == '-';
}

bool IsHexLike(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return IsAsciiDigit(c) || c == '_' || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  });
}

// Safe as a plain scalar in block context on one line, read back unchanged.
bool IsPlainSafe(std::string_view v) {
  if (v.empty()) return false;
  const char first = v.front();
  if (first == '-' || first == '?' || first == ':') {
    if (v.size() < 2) return false;
    const char next = v[1];
    if (next == ' ' || next == '\t' || std::string_view(",[]{}#").find(next) != std::string_view::npos) return false;
  } else if (std::string_view(",[]{}#&*!|>'\"%@`").find(first) != std::string_view::npos) {
    return false;
  }
  if (first == ' ' || first == '\t') return false;
  const char last = v.back();
  if (last == ' ' || last == '\t' || last == ':') return false;
  if (v.starts_with("---") || v.starts_with("...")) return false;
  for (size_t i = 0; i + 1 < v.size(); ++i) {
    if (v[i] == ':' && (v[i + 1] == ' ' || v[i + 1] == '\t')) return false;
    if ((v[i] == ' ' || v[i] == '\t') && v[i + 1] == '#') return false;
  }
  return IsPrintableText(v, /*allow_tab=*/true);
}

std::string DoubleQuoted(std::string_view v) {
  std::string out = "\"";
  out.reserve(v.size() + 2);
  for (size_t i = 0; i < v.size();) {
    const auto c = static_cast<uint8_t>(v[i]);
    if (c >= 0x80) {
      const CodePoint cp = DecodeUtf8(v.substr(i));
      if (cp.length == 0) {
        // Not UTF-8: yaml-cpp reads such bytes through unchanged, and no
        // escape could produce them.
        out += static_cast<char>(c);
        ++i;
        continue;
      }
      if (IsSpecialCodePoint(cp.value)) {
        std::array<char, 8> buf{};
        std::snprintf(buf.data(), buf.size(), "\\u%04X", static_cast<unsigned>(cp.value));
        out += buf.data();
      } else {
        out.append(v.substr(i, cp.length));
      }
      i += cp.length;
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      case '\0': out += "\\0"; break;
      default:
        if (c < 0x20 || c == 0x7F) {
          std::array<char, 8> buf{};
          std::snprintf(buf.data(), buf.size(), "\\x%02X", static_cast<unsigned>(c));
          out += buf.data();
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  out += '"';
  return out;
}

std::vector<std::string_view> SplitLines(std::string_view v) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  for (size_t i = 0; i <= v.size(); ++i) {
    if (i == v.size() || v[i] == '\n') {
      lines.push_back(v.substr(start, i - start));
      start = i + 1;
    }
  }
  return lines;
}

// A literal block keeps the value exactly when every line is printable, the
// first non-empty line does not start with white space (its indentation is
// detected from it) and no line is white space only (readers fold those).
bool CanWriteLiteral(std::string_view v) {
  if (v.find('\n') == std::string_view::npos) return false;
  bool seen_content = false;
  for (std::string_view line : SplitLines(v)) {
    if (line.empty()) continue;
    if (line.find_first_not_of(" \t") == std::string_view::npos) return false;
    if (!seen_content && (line.front() == ' ' || line.front() == '\t')) return false;
    if (line.front() == '\t') return false;
    seen_content = true;
    if (!IsPrintableText(line, /*allow_tab=*/true)) return false;
  }
  return seen_content;
}

// `|`, `|-` or `|+` and the lines, each indented by `indent` spaces.
std::string LiteralBlock(std::string_view v, int indent) {
  size_t trailing_newlines = 0;
  while (trailing_newlines < v.size() && v[v.size() - 1 - trailing_newlines] == '\n') ++trailing_newlines;
  std::string out = trailing_newlines == 0 ? "|-" : trailing_newlines == 1 ? "|" : "|+";
  out += '\n';
  std::string_view body = v.substr(0, v.size() - trailing_newlines);
  for (std::string_view line : SplitLines(body)) {
    if (!line.empty()) out.append(static_cast<size_t>(indent), ' ').append(line);
    out += '\n';
  }
  // Keep chomping: every further newline of the value is one empty line.
  for (size_t i = 1; i < trailing_newlines; ++i) out += '\n';
  return out;
}

bool IsUriChar(char c) {
  if (c >= 'a' && c <= 'z') return true;
  if (c >= 'A' && c <= 'Z') return true;
  if (IsAsciiDigit(c)) return true;
  return std::string_view("-_.~:/?#@&=+$,;%!*'()[]").find(c) != std::string_view::npos;
}

Result<std::string> TagText(const std::string& tag) {
  auto word = [](std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || IsAsciiDigit(c) || c == '-';
    });
  };
  std::string_view t = tag;
  if (t.starts_with(kYamlTagPrefix) && word(t.substr(kYamlTagPrefix.size()))) {
    return "!!" + std::string(t.substr(kYamlTagPrefix.size()));
  }
  if (t == "!") return std::string("!");
  if (t.starts_with("!") && word(t.substr(1))) return tag;
  if (!t.empty() && !t.starts_with("!") && std::all_of(t.begin(), t.end(), IsUriChar)) {
    return "!<" + tag + ">";
  }
  return Fail(ErrorCode::kUnsupported, "cannot write the tag \"" + tag + "\"");
}

enum class ScalarClass { kPlain, kString, kTagged };

ScalarClass Classify(const YAML::Node& scalar) {
  const std::string& tag = scalar.Tag();
  if (tag == "?") return ScalarClass::kPlain;
  if (tag.empty() || tag == "!" || tag == std::string(kYamlTagPrefix) + "str") return ScalarClass::kString;
  return ScalarClass::kTagged;
}

// Tags "" (API-built) and "?" (untagged in the input) both mean "no tag".
bool CollectionTagsEqual(const std::string& a, const std::string& b) {
  const auto norm = [](const std::string& t) -> std::string_view { return t == "?" ? std::string_view() : t; };
  return norm(a) == norm(b);
}

bool EqualAt(const YAML::Node& a, const YAML::Node& b, int depth) {
  if (depth > kMaxTreeDepth) return false;
  if (a.Type() != b.Type()) return false;
  switch (a.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null: return true;
    case YAML::NodeType::Scalar: {
      if (a.Scalar() != b.Scalar()) return false;
      const ScalarClass ca = Classify(a);
      const ScalarClass cb = Classify(b);
      if (ca == ScalarClass::kTagged || cb == ScalarClass::kTagged) return ca == cb && a.Tag() == b.Tag();
      if (ca == cb) return true;
      return !MayReadAsNonString(a.Scalar());
    }
    case YAML::NodeType::Sequence: {
      if (a.size() != b.size() || !CollectionTagsEqual(a.Tag(), b.Tag())) return false;
      for (size_t i = 0; i < a.size(); ++i) {
        if (!EqualAt(a[i], b[i], depth + 1)) return false;
      }
      return true;
    }
    case YAML::NodeType::Map: {
      if (a.size() != b.size() || !CollectionTagsEqual(a.Tag(), b.Tag())) return false;
      auto ib = b.begin();
      for (auto ia = a.begin(); ia != a.end(); ++ia, ++ib) {
        if (ib == b.end()) return false;
        if (!EqualAt(ia->first, ib->first, depth + 1) || !EqualAt(ia->second, ib->second, depth + 1)) return false;
      }
      return ib == b.end();
    }
  }
  return false;
}

class Writer {
 public:
  Status Map(const YAML::Node& map, int indent, bool inline_first, int depth) {
    if (depth > kMaxTreeDepth) return TooDeep();
    bool first = true;
    for (auto it = map.begin(); it != map.end(); ++it) {
      if (!(first && inline_first)) Indent(indent);
      first = false;
      auto key = KeyText(it->first);
      if (!key) return Fail(key.error());
      out_ += *key;
      out_ += ':';
      const YAML::Node value = it->second;
      if ((value.IsMap() || value.IsSequence()) && value.size() > 0) {
        if (auto tag = CollectionTag(value); !tag) {
          return Fail(tag.error());
        } else if (!tag->empty()) {
          out_ += ' ';
          out_ += *tag;
        }
        out_ += '\n';
        Status nested =
            value.IsMap() ? Map(value, indent + 2, false, depth + 1) : Sequence(value, indent, false, depth + 1);
        if (!nested) return nested;
      } else {
        out_ += ' ';
        if (Status s = Leaf(value, indent + 2); !s) return s;
      }
    }
    return {};
  }

  Status Sequence(const YAML::Node& seq, int indent, bool inline_first, int depth) {
    if (depth > kMaxTreeDepth) return TooDeep();
    bool first = true;
    for (auto it = seq.begin(); it != seq.end(); ++it) {
      if (!(first && inline_first)) Indent(indent);
      first = false;
      out_ += "- ";
      const YAML::Node& item = *it;
      if ((item.IsMap() || item.IsSequence()) && item.size() > 0) {
        auto tag = CollectionTag(item);
        if (!tag) return Fail(tag.error());
        bool item_inline = true;
        if (!tag->empty()) {
          out_ += *tag;
          out_ += '\n';
          item_inline = false;
        }
        Status nested = item.IsMap() ? Map(item, indent + 2, item_inline, depth + 1)
                                     : Sequence(item, indent + 2, item_inline, depth + 1);
        if (!nested) return nested;
      } else {
        if (Status s = Leaf(item, indent + 2); !s) return s;
      }
    }
    return {};
  }

  // A scalar, null or empty collection after "key: " or "- ", with its newline.
  Status Leaf(const YAML::Node& node, int block_indent) {
    if (node.IsNull() || !node.IsDefined()) {
      out_ += "null\n";
      return {};
    }
    if (node.IsMap() || node.IsSequence()) {
      auto tag = CollectionTag(node);
      if (!tag) return Fail(tag.error());
      if (!tag->empty()) out_ += *tag + " ";
      out_ += node.IsMap() ? "{}\n" : "[]\n";
      return {};
    }
    auto text = ScalarText(node, block_indent, /*is_key=*/false);
    if (!text) return Fail(text.error());
    out_ += *text;
    if (out_.back() != '\n') out_ += '\n';
    return {};
  }

  std::string Take() { return std::move(out_); }

 private:
  static tl::unexpected<Error> TooDeep() {
    return Fail(ErrorCode::kUnsupported, "YAML tree too deeply nested to write");
  }

  void Indent(int n) { out_.append(static_cast<size_t>(n), ' '); }

  static Result<std::string> CollectionTag(const YAML::Node& node) {
    const std::string& tag = node.Tag();
    if (tag.empty() || tag == "?") return std::string();
    return TagText(tag);
  }

  Result<std::string> KeyText(const YAML::Node& key) {
    if (key.IsNull()) return std::string("null");
    if (!key.IsScalar()) return Fail(ErrorCode::kUnsupported, "cannot write a map key that is not a scalar");
    if (key.Scalar().size() > kMaxKeyLength) {
      return Fail(ErrorCode::kUnsupported, "cannot write a map key longer than 1024 bytes");
    }
    return ScalarText(key, 0, /*is_key=*/true);
  }

  // The scalar as text; a literal block ends in a newline, inline text does not.
  static Result<std::string> ScalarText(const YAML::Node& node, int block_indent, bool is_key) {
    const std::string& v = node.Scalar();
    switch (Classify(node)) {
      case ScalarClass::kPlain:
        if (IsPlainSafe(v)) return v;
        // Written quoted it still reads as the same string.
        if (!MayReadAsNonString(v)) return StringText(v, block_indent, is_key);
        return Fail(ErrorCode::kUnsupported, "cannot write the plain scalar " + DoubleQuoted(v) + " unchanged");
      case ScalarClass::kString:
        if (!MayReadAsNonString(v) && IsPlainSafe(v)) return v;
        return StringText(v, block_indent, is_key);
      case ScalarClass::kTagged: {
        auto tag = TagText(node.Tag());
        if (!tag) return Fail(tag.error());
        return *tag + " " + (IsPlainSafe(v) ? v : DoubleQuoted(v));
      }
    }
    return Fail(ErrorCode::kInternal, "unknown scalar class");
  }

  static std::string StringText(std::string_view v, int block_indent, bool is_key) {
    if (!is_key && CanWriteLiteral(v)) return LiteralBlock(v, block_indent);
    return DoubleQuoted(v);
  }

  std::string out_;
};

}  // namespace

bool MayReadAsNonString(std::string_view v) {
  if (v.empty()) return true;
  for (std::string_view word : {"~", "null", "y", "n", "yes", "no", "true", "false", "on", "off"}) {
    if (EqualsIgnoreCase(v, word)) return true;
  }
  if (v == "=" || v == "<<") return true;
  // Timestamps: 2001-12-14, 2001-12-14t21:59:43.10-05:00, …
  if (v.size() >= 5 && std::all_of(v.begin(), v.begin() + 4, IsAsciiDigit) && v[4] == '-') return true;
  std::string_view rest = v;
  if (rest.front() == '+' || rest.front() == '-') rest.remove_prefix(1);
  if (rest.empty()) return false;
  if (EqualsIgnoreCase(rest, ".inf") || EqualsIgnoreCase(rest, ".nan")) return true;
  if (rest.size() >= 2 && rest[0] == '0') {
    const char base = rest[1];
    if ((base == 'x' || base == 'X' || base == 'o' || base == 'O' || base == 'b' || base == 'B') &&
        IsHexLike(rest.substr(2))) {
      return true;
    }
  }
  // Integers, floats, exponents and sexagesimal numbers in every spelling.
  const bool starts_numeric = IsAsciiDigit(rest.front()) || rest.front() == '.';
  const bool has_digit = std::any_of(rest.begin(), rest.end(), IsAsciiDigit);
  return starts_numeric && has_digit && std::all_of(rest.begin(), rest.end(), IsYamlNumberChar);
}

bool IsStringScalar(const YAML::Node& scalar) {
  if (!scalar.IsScalar()) return false;
  switch (Classify(scalar)) {
    case ScalarClass::kString: return true;
    case ScalarClass::kPlain: return !MayReadAsNonString(scalar.Scalar());
    case ScalarClass::kTagged: return false;
  }
  return false;
}

bool Equal(const YAML::Node& a, const YAML::Node& b) { return EqualAt(a, b, 0); }

Result<std::string> EmitYaml(const YAML::Node& root) {
  Writer writer;
  if ((root.IsMap() || root.IsSequence()) && root.size() > 0) {
    const std::string& tag = root.Tag();
    if (!tag.empty() && tag != "?") {
      return Fail(ErrorCode::kUnsupported, "cannot write a tag on a document's root");
    }
    Status written = root.IsMap() ? writer.Map(root, 0, false, 0) : writer.Sequence(root, 0, false, 0);
    if (!written) return Fail(written.error());
    return writer.Take();
  }
  // A root scalar, null or empty collection: written as a single value.
  if (Status s = writer.Leaf(root, 2); !s) return Fail(s.error());
  return writer.Take();
}

}  // namespace contrast::kube
