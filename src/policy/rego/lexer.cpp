#include "policy/rego/lexer.h"
#include "common/text.h"

#include <cstdint>
#include <cstdio>
#include <optional>

namespace contrast::policy::rego::lexer {
namespace {

bool IsIdentStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsIdentChar(char c) { return IsIdentStart(c) || IsDigit(c); }

std::optional<uint32_t> HexValue(char c) {
  if (c >= '0' && c <= '9') return static_cast<uint32_t>(c - '0');
  if (c >= 'a' && c <= 'f') return static_cast<uint32_t>(c - 'a' + 10);
  if (c >= 'A' && c <= 'F') return static_cast<uint32_t>(c - 'A' + 10);
  return std::nullopt;
}

// Length of the well-formed UTF-8 sequence at s[i], or 0 when it is not one.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  size_t n = 0;
  uint32_t cp = 0;
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) {
    n = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

class Lexer {
 public:
  Lexer(std::string_view filename, std::string_view source, const ast::ParseLimits& limits)
      : filename_(filename), src_(source), limits_(limits) {}

  Result<std::vector<Token>> Run() {
    // Generated policies are sometimes written with their C string
    // terminator; trailing NUL bytes carry no meaning.
    while (!src_.empty() && src_.back() == '\0') src_.remove_suffix(1);
    if (src_.size() > limits_.max_bytes) {
      return Fail(MakeError(1, 1, "source is larger than " + std::to_string(limits_.max_bytes) + " bytes"));
    }
    std::vector<Token> tokens;
    for (;;) {
      if (auto skipped = SkipSpace(); !skipped) return Fail(skipped.error());
      Token token;
      token.newline_before = newline_;
      token.line = line_;
      token.column = Column();
      token.begin = pos_;
      newline_ = false;
      if (pos_ >= src_.size()) {
        if (!templates_.empty())
          return Fail(MakeError(templates_.back().line, templates_.back().column, "non-terminated template string"));
        token.kind = TokenKind::kEof;
        token.end = pos_;
        tokens.push_back(std::move(token));
        return tokens;
      }
      if (auto status = Next(token); !status) return Fail(status.error());
      token.end = pos_;
      token.text = src_.substr(token.begin, token.end - token.begin);
      tokens.push_back(std::move(token));
    }
  }

 private:
  int Column() const { return static_cast<int>(pos_ - line_start_) + 1; }

  contrast::Error MakeError(int line, int column, std::string_view text) const {
    return RegoError(kRegoParseError, Location{std::string(filename_), line, column}, text);
  }
  contrast::Error ErrorHere(std::string_view text) const { return MakeError(line_, Column(), text); }

  Status NewLine() {
    if (pos_ - line_start_ > limits_.max_line_length) {
      return Fail(MakeError(line_, 1, "line is longer than " + std::to_string(limits_.max_line_length) + " bytes"));
    }
    ++line_;
    line_start_ = pos_ + 1;
    newline_ = true;
    return {};
  }

  Status SkipSpace() {
    while (pos_ < src_.size()) {
      const char c = src_[pos_];
      if (c == '\n') {
        if (auto status = NewLine(); !status) return status;
        ++pos_;
      } else if (c == ' ' || c == '\t' || c == '\r') {
        ++pos_;
      } else if (c == '#') {
        while (pos_ < src_.size() && src_[pos_] != '\n') ++pos_;
      } else {
        break;
      }
    }
    if (pos_ - line_start_ > limits_.max_line_length) {
      return Fail(MakeError(line_, 1, "line is longer than " + std::to_string(limits_.max_line_length) + " bytes"));
    }
    return {};
  }

  char Peek(size_t ahead = 0) const { return pos_ + ahead < src_.size() ? src_[pos_ + ahead] : '\0'; }

  Status Next(Token& token) {
    const char c = src_[pos_];
    if (IsIdentStart(c)) {
      while (pos_ < src_.size() && IsIdentChar(src_[pos_])) ++pos_;
      token.kind = TokenKind::kIdent;
      return {};
    }
    if (IsDigit(c)) return LexNumber(token);
    if (c == '"') return QuotedString(token);
    if (c == '`') return RawString(token);
    if (c == '$' && (Peek(1) == '"' || Peek(1) == '`')) return TemplateStart(token);
    if (!templates_.empty()) {
      // Braces inside an embedded expression nest; the `}` that matches the
      // placeholder's `{` resumes the template's text.
      if (c == '{') ++templates_.back().depth;
      if (c == '}') {
        if (templates_.back().depth == 0) return TemplateText(token, false);
        --templates_.back().depth;
      }
    }
    const auto one = [&](TokenKind kind) {
      token.kind = kind;
      ++pos_;
      return Status{};
    };
    const auto two = [&](TokenKind kind) {
      token.kind = kind;
      pos_ += 2;
      return Status{};
    };
    switch (c) {
      case '{': return one(TokenKind::kLBrace);
      case '}': return one(TokenKind::kRBrace);
      case '[': return one(TokenKind::kLBracket);
      case ']': return one(TokenKind::kRBracket);
      case '(': return one(TokenKind::kLParen);
      case ')': return one(TokenKind::kRParen);
      case ',': return one(TokenKind::kComma);
      case ';': return one(TokenKind::kSemicolon);
      case '.': return one(TokenKind::kDot);
      case '+': return one(TokenKind::kPlus);
      case '-': return one(TokenKind::kMinus);
      case '*': return one(TokenKind::kStar);
      case '/': return one(TokenKind::kSlash);
      case '%': return one(TokenKind::kPercent);
      case '&': return one(TokenKind::kAmpersand);
      case '|': return one(TokenKind::kPipe);
      case ':': return Peek(1) == '=' ? two(TokenKind::kAssign) : one(TokenKind::kColon);
      case '=': return Peek(1) == '=' ? two(TokenKind::kEqual) : one(TokenKind::kUnify);
      case '<': return Peek(1) == '=' ? two(TokenKind::kLessEqual) : one(TokenKind::kLess);
      case '>': return Peek(1) == '=' ? two(TokenKind::kGreaterEqual) : one(TokenKind::kGreater);
      case '!':
        if (Peek(1) == '=') return two(TokenKind::kNotEqual);
        break;
      default: break;
    }
    if (static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7F) {
      return Fail(ErrorHere(std::string("illegal token '") + c + "'"));
    }
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02x", static_cast<unsigned char>(c));
    return Fail(ErrorHere(std::string("illegal character ") + hex));
  }

  Status LexNumber(Token& token) {
    token.kind = TokenKind::kNumber;
    while (IsDigit(Peek())) ++pos_;
    if (Peek() == '.' && IsDigit(Peek(1))) {
      ++pos_;
      while (IsDigit(Peek())) ++pos_;
    }
    if (Peek() == 'e' || Peek() == 'E') {
      size_t ahead = 1;
      if (Peek(1) == '+' || Peek(1) == '-') ahead = 2;
      if (!IsDigit(Peek(ahead))) return Fail(ErrorHere("invalid number: exponent without digits"));
      pos_ += ahead;
      while (IsDigit(Peek())) ++pos_;
    }
    if (IsIdentStart(Peek())) return Fail(ErrorHere("invalid number: unexpected character after number"));
    return {};
  }

  Status QuotedString(Token& token) {
    token.kind = TokenKind::kString;
    const int line = line_;
    const int column = Column();
    ++pos_;  // opening quote
    std::string& out = token.value;
    for (;;) {
      if (pos_ >= src_.size() || src_[pos_] == '\n') return Fail(MakeError(line, column, "non-terminated string"));
      const char c = src_[pos_];
      if (c == '"') {
        ++pos_;
        return {};
      }
      if (static_cast<unsigned char>(c) < 0x20) return Fail(ErrorHere("invalid control character in string"));
      if (c != '\\') {
        const size_t n = Utf8SequenceLength(src_, pos_);
        if (n == 0) return Fail(ErrorHere("invalid UTF-8 in string"));
        out.append(src_.substr(pos_, n));
        pos_ += n;
        continue;
      }
      if (auto status = Escape(out, false); !status) return status;
    }
  }

  // At a backslash in a quoted string: decodes the escape sequence into `out`.
  // Template strings also escape their placeholder braces.
  Status Escape(std::string& out, bool template_braces) {
    ++pos_;
    const char e = Peek();
    ++pos_;
    switch (e) {
      case '"': out += '"'; break;
      case '\\': out += '\\'; break;
      case '/': out += '/'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'u': {
        auto cp = UnicodeEscape();
        if (!cp) return Fail(cp.error());
        AppendUtf8(out, *cp);
        break;
      }
      case '{':
      case '}':
        if (template_braces) {
          out += e;
          break;
        }
        [[fallthrough]];
      default:
        pos_ -= 2;  // point at the backslash
        return Fail(ErrorHere("invalid escape sequence in string"));
    }
    return {};
  }

  // After "\u": four hex digits, combined with a following "\uXXXX" low
  // surrogate when they form a pair. A lone surrogate decodes to U+FFFD, as
  // JSON decoders do.
  Result<uint32_t> UnicodeEscape() {
    auto hex4 = [&]() -> std::optional<uint32_t> {
      if (pos_ + 4 > src_.size()) return std::nullopt;
      uint32_t v = 0;
      for (size_t k = 0; k < 4; ++k) {
        auto d = HexValue(src_[pos_ + k]);
        if (!d) return std::nullopt;
        v = v * 16 + *d;
      }
      pos_ += 4;
      return v;
    };
    auto high = hex4();
    if (!high) return Fail(ErrorHere("invalid \\u escape in string: expected four hex digits"));
    if (*high < 0xD800 || *high > 0xDFFF) return *high;
    if (*high <= 0xDBFF && Peek() == '\\' && Peek(1) == 'u') {
      const size_t saved = pos_;
      pos_ += 2;
      auto low = hex4();
      if (low && *low >= 0xDC00 && *low <= 0xDFFF) return 0x10000 + ((*high - 0xD800) << 10) + (*low - 0xDC00);
      pos_ = saved;  // not a pair: decode the next escape on its own
    }
    return 0xFFFD;
  }

  Status RawString(Token& token) {
    token.kind = TokenKind::kString;
    const int line = line_;
    const int column = Column();
    ++pos_;
    const size_t start = pos_;
    while (pos_ < src_.size() && src_[pos_] != '`') {
      if (src_[pos_] == '\n') {
        if (auto status = NewLine(); !status) return status;
        ++pos_;
        continue;
      }
      const size_t n = Utf8SequenceLength(src_, pos_);
      if (n == 0) return Fail(ErrorHere("invalid UTF-8 in string"));
      pos_ += n;
    }
    if (pos_ >= src_.size()) return Fail(MakeError(line, column, "non-terminated raw string"));
    token.value = std::string(src_.substr(start, pos_ - start));
    ++pos_;
    // A newline inside a raw string does not separate expressions.
    newline_ = false;
    return {};
  }

  // `$"` or `` $` ``: the template's first piece of text.
  Status TemplateStart(Token& token) {
    if (templates_.size() >= limits_.max_nesting) {
      return Fail(ErrorHere("template strings are nested deeper than " + std::to_string(limits_.max_nesting)));
    }
    templates_.push_back(Template{src_[pos_ + 1] == '`', 0, line_, Column()});
    pos_ += 2;
    return TemplateText(token, true);
  }

  // Text of the innermost template, from after `$"` (first) or after the `}`
  // closing a placeholder, up to the next placeholder or the closing quote.
  Status TemplateText(Token& token, bool first) {
    Template& current = templates_.back();
    if (!first) ++pos_;  // }
    const char close = current.raw ? '`' : '"';
    std::string& out = token.value;
    for (;;) {
      if (pos_ >= src_.size() || (!current.raw && src_[pos_] == '\n')) {
        return Fail(MakeError(current.line, current.column, "non-terminated template string"));
      }
      const char c = src_[pos_];
      if (c == close) {
        ++pos_;
        token.kind = first ? TokenKind::kTemplateFull : TokenKind::kTemplateTail;
        templates_.pop_back();
        break;
      }
      if (c == '{') {
        ++pos_;
        token.kind = first ? TokenKind::kTemplateHead : TokenKind::kTemplateMiddle;
        break;
      }
      if (c == '\\' && current.raw) {
        // Raw templates keep backslashes, except before a brace, which they
        // make literal text.
        if (Peek(1) == '{' || Peek(1) == '}') {
          out += Peek(1);
          pos_ += 2;
        } else {
          out += c;
          ++pos_;
        }
        continue;
      }
      if (c == '\\') {
        if (auto status = Escape(out, true); !status) return status;
        continue;
      }
      if (c == '\n') {
        if (auto status = NewLine(); !status) return status;
        out += c;
        ++pos_;
        continue;
      }
      if (static_cast<unsigned char>(c) < 0x20 && !current.raw) {
        return Fail(ErrorHere("invalid control character in string"));
      }
      const size_t n = Utf8SequenceLength(src_, pos_);
      if (n == 0) return Fail(ErrorHere("invalid UTF-8 in string"));
      out.append(src_.substr(pos_, n));
      pos_ += n;
    }
    // A newline inside the template's text does not separate expressions.
    newline_ = false;
    return {};
  }

  struct Template {
    bool raw = false;
    int depth = 0;  // braces open inside the current placeholder
    int line = 0;   // where the template starts, for errors
    int column = 0;
  };

  std::string_view filename_;
  std::string_view src_;
  const ast::ParseLimits& limits_;
  size_t pos_ = 0;
  size_t line_start_ = 0;
  int line_ = 1;
  bool newline_ = false;
  std::vector<Template> templates_;  // templates whose placeholders are open, innermost last
};

}  // namespace

Result<std::vector<Token>> Tokenize(std::string_view filename, std::string_view source,
                                    const ast::ParseLimits& limits) {
  return Lexer(filename, source, limits).Run();
}

}  // namespace contrast::policy::rego::lexer
