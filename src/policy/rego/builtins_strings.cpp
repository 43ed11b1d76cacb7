// String builtins with OPA's semantics. OPA is written in Go, so byte and
// rune behaviour (indexing by code point, invalid UTF-8 read as U+FFFD,
// strings.Replacer and fmt.Sprintf rules) follows Go's standard library.
#include <locale.h>
#include <wctype.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <set>
#include <type_traits>

#include "policy/rego/builtins.h"
#include "policy/rego/builtins_text.h"

namespace contrast::policy::rego {
namespace {

using text::BuiltinError;
using text::IntOperand;
using text::OperandError;
using text::StringOperand;

Result<Value> Str(std::string s) { return Value::String(std::move(s)); }

// ---------------------------------------------------------------------------
// Unicode helpers.

// glibc's C.UTF-8 locale carries the full simple case mapping, which is what
// Go's unicode.ToLower/ToUpper apply rune by rune.
locale_t Utf8Locale() {
  static const locale_t locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(nullptr));
  return locale;
}

char32_t MapCase(char32_t r, bool upper) {
  if (r < 0x80) {
    if (upper && r >= 'a' && r <= 'z') return r - 32;
    if (!upper && r >= 'A' && r <= 'Z') return r + 32;
    return r;
  }
  locale_t locale = Utf8Locale();
  if (locale == static_cast<locale_t>(nullptr)) return r;
  const auto w = static_cast<wint_t>(r);
  return static_cast<char32_t>(upper ? towupper_l(w, locale) : towlower_l(w, locale));
}

std::string MapCaseString(std::string_view s, bool upper) {
  std::string out;
  out.reserve(s.size());
  if (text::IsAscii(s)) {
    for (char c : s) out.push_back(static_cast<char>(MapCase(static_cast<uint8_t>(c), upper)));
    return out;
  }
  // Go's strings.Map re-encodes every rune, so invalid bytes become U+FFFD.
  for (size_t pos = 0; pos < s.size();) {
    const text::DecodedRune r = text::DecodeRune(s, pos);
    text::AppendRune(out, MapCase(r.rune, upper));
    pos += r.width;
  }
  return out;
}

// Go's unicode.IsSpace.
bool IsSpaceRune(char32_t r) {
  switch (r) {
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case ' ':
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000: return true;
    default: return r >= 0x2000 && r <= 0x200A;
  }
}

// Go's unicode.IsPrint, approximated through the C.UTF-8 locale: graphic
// characters, with U+0020 the only space that counts as printable.
bool IsPrintRune(char32_t r) {
  if (r < 0x80) return r >= 0x20 && r < 0x7F;
  if (IsSpaceRune(r)) return false;
  locale_t locale = Utf8Locale();
  if (locale == static_cast<locale_t>(nullptr)) return false;
  return iswprint_l(static_cast<wint_t>(r), locale) != 0;
}

// ---------------------------------------------------------------------------
// Integers beyond int64: OPA formats them with math/big, we convert the
// exact decimal digits.

// Digits of a non-negative decimal integer in `base` (2..16), lower case.
std::string DecimalToBase(std::string_view decimal, int base) {
  if (base == 10) return std::string(decimal);
  std::vector<uint8_t> digits;
  for (char c : decimal) digits.push_back(static_cast<uint8_t>(c - '0'));
  std::string out;
  while (!(digits.empty() || (digits.size() == 1 && digits[0] == 0))) {
    std::vector<uint8_t> quotient;
    int remainder = 0;
    for (uint8_t d : digits) {
      remainder = remainder * 10 + d;
      const int q = remainder / base;
      remainder %= base;
      if (!quotient.empty() || q != 0) quotient.push_back(static_cast<uint8_t>(q));
    }
    out.push_back("0123456789abcdef"[remainder]);
    digits = std::move(quotient);
  }
  if (out.empty()) out = "0";
  std::reverse(out.begin(), out.end());
  return out;
}

// An integral number as sign and decimal magnitude; floats are truncated
// toward zero (OPA's big.Float.Int).
struct IntegerText {
  bool negative = false;
  std::string magnitude;
};

IntegerText TruncatedInteger(const Number& n) {
  IntegerText out;
  std::string digits;
  if (n.is_integer()) {
    digits = n.ToString();
  } else {
    const double d = std::trunc(n.ToDouble());
    if (!std::isfinite(d)) return {false, "0"};
    std::array<char, 400> buffer{};
    std::snprintf(buffer.data(), buffer.size(), "%.0f", d);
    digits = buffer.data();
  }
  if (!digits.empty() && digits[0] == '-') {
    out.negative = true;
    digits.erase(0, 1);
  }
  out.magnitude = digits == "0" ? "0" : digits;
  if (out.magnitude == "0") out.negative = false;
  return out;
}

// ---------------------------------------------------------------------------
// Go's strings.Replacer: at each byte position the first pattern (in the
// given priority order) that matches is replaced; an empty pattern matches
// at every position but never twice in a row.

std::string ReplaceAll(std::string_view s, std::span<const std::pair<std::string_view, std::string_view>> pairs) {
  if (pairs.size() == 1 && !pairs[0].first.empty()) {
    const text::Finder finder(pairs[0].first);
    std::string out;
    out.reserve(s.size() + pairs[0].second.size());  // one replacement without growing
    size_t last = 0;
    for (size_t hit = finder.Find(s); hit != std::string_view::npos; hit = finder.Find(s, last)) {
      out.append(s.substr(last, hit - last));
      out.append(pairs[0].second);
      last = hit + pairs[0].first.size();
    }
    out.append(s.substr(last));
    return out;
  }
  std::array<bool, 256> first_bytes{};
  bool has_empty = false;
  for (const auto& [old_text, replacement] : pairs) {
    if (old_text.empty()) {
      has_empty = true;
    } else {
      first_bytes[static_cast<uint8_t>(old_text[0])] = true;
    }
  }
  std::string out;
  out.reserve(s.size());
  bool previous_match_empty = false;
  size_t last = 0;
  for (size_t i = 0; i <= s.size();) {
    if (!has_empty && i < s.size() && !first_bytes[static_cast<uint8_t>(s[i])]) {
      ++i;
      continue;
    }
    const std::pair<std::string_view, std::string_view>* match = nullptr;
    for (const auto& pair : pairs) {
      if (pair.first.empty() && previous_match_empty) continue;
      if (s.substr(i).starts_with(pair.first)) {
        match = &pair;
        break;
      }
    }
    previous_match_empty = match != nullptr && match->first.empty();
    if (match == nullptr) {
      ++i;
      continue;
    }
    out.append(s.substr(last, i - last));
    out.append(match->second);
    i += match->first.size();
    last = i;
  }
  if (last < s.size()) out.append(s.substr(last));
  return out;
}

// ---------------------------------------------------------------------------
// Go's strings.Trim family over a cutset of runes.

struct Cutset {
  explicit Cutset(std::string_view cutset) {
    const std::vector<char32_t> runes = text::ToRunes(cutset);
    members.insert(runes.begin(), runes.end());
  }
  bool Contains(char32_t r) const { return members.count(r) != 0; }
  std::set<char32_t> members;
};

std::string_view TrimLeftRunes(std::string_view s, const auto& should_trim) {
  size_t pos = 0;
  while (pos < s.size()) {
    const text::DecodedRune r = text::DecodeRune(s, pos);
    if (!should_trim(r.rune)) break;
    pos += r.width;
  }
  return s.substr(pos);
}

std::string_view TrimRightRunes(std::string_view s, const auto& should_trim) {
  size_t end = s.size();
  while (end > 0) {
    const text::DecodedRune r = text::DecodeLastRune(s, end);
    if (!should_trim(r.rune)) break;
    end -= r.width;
  }
  return s.substr(0, end);
}

// ---------------------------------------------------------------------------
// Go's fmt.Sprintf, for the argument types OPA passes: int, *big.Int,
// float64 and string (composite values arrive as their Rego text).

struct FormatArg {
  enum class Type { kInt, kBigInt, kFloat, kString };
  Type type = Type::kString;
  int64_t integer = 0;
  IntegerText big;  // kBigInt
  double floating = 0;
  std::string string;
};

FormatArg ToFormatArg(const Value& v) {
  FormatArg arg;
  if (v.is_number()) {
    const Number& n = v.as_number();
    if (n.is_integer()) {
      if (auto i = n.ToInt64()) {
        arg.type = FormatArg::Type::kInt;
        arg.integer = *i;
      } else {
        arg.type = FormatArg::Type::kBigInt;
        arg.big = TruncatedInteger(n);
      }
    } else {
      arg.type = FormatArg::Type::kFloat;
      arg.floating = n.ToDouble();
    }
  } else if (v.is_string()) {
    arg.string = v.as_string();
  } else {
    arg.string = v.ToRegoString();
  }
  return arg;
}

struct FormatSpec {
  bool plus = false, minus = false, sharp = false, space = false, zero = false;
  bool has_width = false, has_precision = false;
  int width = 0, precision = 0;
  char32_t verb = 0;
};

void Pad(std::string& out, std::string_view body, const FormatSpec& spec, bool zero_allowed) {
  const size_t length = text::RuneCount(body);
  const size_t width = spec.has_width && spec.width > 0 ? static_cast<size_t>(spec.width) : 0;
  if (length >= width) {
    out.append(body);
    return;
  }
  const size_t fill = width - length;
  if (spec.minus) {
    out.append(body);
    out.append(fill, ' ');
  } else if (spec.zero && zero_allowed) {
    // Zeros go after a sign.
    size_t sign = !body.empty() && (body[0] == '-' || body[0] == '+' || body[0] == ' ') ? 1 : 0;
    out.append(body.substr(0, sign));
    out.append(fill, '0');
    out.append(body.substr(sign));
  } else {
    out.append(fill, ' ');
    out.append(body);
  }
}

std::string QuoteGo(std::string_view s, char quote, bool ascii_only) {
  std::string out(1, quote);
  static constexpr char kHex[] = "0123456789abcdef";
  for (size_t pos = 0; pos < s.size();) {
    const text::DecodedRune r = text::DecodeRune(s, pos);
    const bool invalid = r.rune == text::kReplacementRune && r.width == 1;
    pos += r.width;
    if (invalid) {
      const auto b = static_cast<uint8_t>(s[pos - 1]);
      out += "\\x";
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 0xF]);
      continue;
    }
    const char32_t c = r.rune;
    if (c == static_cast<char32_t>(quote) || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
      continue;
    }
    if (c < 0x80 ? (c >= 0x20 && c < 0x7F) : (!ascii_only && IsPrintRune(c))) {
      text::AppendRune(out, c);
      continue;
    }
    switch (c) {
      case '\a': out += "\\a"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case '\v': out += "\\v"; continue;
      default: break;
    }
    std::array<char, 16> buffer{};
    if (c < 0x20 || c == 0x7F) {
      std::snprintf(buffer.data(), buffer.size(), "\\x%02x", static_cast<unsigned>(c));
    } else if (c < 0x10000) {
      std::snprintf(buffer.data(), buffer.size(), "\\u%04x", static_cast<unsigned>(c));
    } else {
      std::snprintf(buffer.data(), buffer.size(), "\\U%08x", static_cast<unsigned>(c));
    }
    out += buffer.data();
  }
  out.push_back(quote);
  return out;
}

// Go's %v/%g for float64 with the shortest precision: %e notation when the
// exponent is < -4 or >= 6 (shortest %g uses 6 for this decision).
std::string ShortestFloat(double d, bool upper, int exponent_threshold = 6) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "+Inf" : "-Inf";
  std::array<char, 64> buffer{};
  auto [end, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), d, std::chars_format::scientific);
  std::string sci(buffer.data(), end);
  std::string sign;
  if (sci[0] == '-') {
    sign = "-";
    sci.erase(0, 1);
  }
  const size_t e = sci.find('e');
  std::string digits = sci.substr(0, e);
  digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
  const int exponent = std::stoi(sci.substr(e + 1));
  if (exponent < -4 || exponent >= exponent_threshold) {
    std::string out = sign + digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    std::array<char, 16> exp_text{};
    std::snprintf(exp_text.data(), exp_text.size(), "%c%c%02d", upper ? 'E' : 'e', exponent < 0 ? '-' : '+',
                  std::abs(exponent));
    return out + exp_text.data();
  }
  if (exponent < 0) return sign + "0." + std::string(static_cast<size_t>(-exponent - 1), '0') + digits;
  const auto point = static_cast<size_t>(exponent) + 1;
  if (digits.size() <= point) return sign + digits + std::string(point - digits.size(), '0');
  return sign + digits.substr(0, point) + "." + digits.substr(point);
}

std::string TypeName(const FormatArg& arg) {
  switch (arg.type) {
    case FormatArg::Type::kInt: return "int";
    case FormatArg::Type::kBigInt: return "*big.Int";
    case FormatArg::Type::kFloat: return "float64";
    case FormatArg::Type::kString: return "string";
  }
  return "";
}

std::string PlainText(const FormatArg& arg) {
  switch (arg.type) {
    case FormatArg::Type::kInt: return std::to_string(arg.integer);
    case FormatArg::Type::kBigInt: return (arg.big.negative ? "-" : "") + arg.big.magnitude;
    case FormatArg::Type::kFloat: return ShortestFloat(arg.floating, false);
    case FormatArg::Type::kString: return arg.string;
  }
  return "";
}

void BadVerb(std::string& out, char32_t verb, const FormatArg& arg) {
  out += "%!";
  text::AppendRune(out, verb);
  out += "(";
  out += arg.type == FormatArg::Type::kBigInt ? "big.Int" : TypeName(arg);
  out += "=" + PlainText(arg) + ")";
}

// Go's fmtInteger on a sign and magnitude digits already in the target base.
void FormatIntegerDigits(std::string& out, bool negative, std::string digits, int base, const FormatSpec& spec) {
  if (spec.has_precision) {
    if (spec.precision == 0 && digits == "0") digits.clear();
    if (digits.size() < static_cast<size_t>(spec.precision)) {
      digits.insert(0, static_cast<size_t>(spec.precision) - digits.size(), '0');
    }
  } else if (spec.zero && spec.has_width && !spec.minus) {
    int room = spec.width - ((negative || spec.plus || spec.space) ? 1 : 0);
    if (digits.size() < static_cast<size_t>(std::max(room, 0))) digits.insert(0, room - digits.size(), '0');
  }
  std::string prefix;
  if (spec.sharp) {
    if (base == 8 && (digits.empty() || digits[0] != '0')) prefix = "0";
    if (base == 16) prefix = spec.verb == 'X' ? "0X" : "0x";
    if (base == 2) prefix = "0b";
  }
  if (spec.verb == 'O') prefix = "0o";
  if (spec.verb == 'X') std::transform(digits.begin(), digits.end(), digits.begin(), ::toupper);
  std::string sign = negative ? "-" : spec.plus ? "+" : spec.space ? " " : "";
  FormatSpec pad = spec;
  pad.zero = false;
  Pad(out, sign + prefix + digits, pad, false);
}

void FormatInteger(std::string& out, const FormatArg& arg, const FormatSpec& spec) {
  const bool negative = arg.type == FormatArg::Type::kInt ? arg.integer < 0 : arg.big.negative;
  std::string magnitude;
  if (arg.type == FormatArg::Type::kInt) {
    const uint64_t u = arg.integer < 0 ? 0 - static_cast<uint64_t>(arg.integer) : static_cast<uint64_t>(arg.integer);
    magnitude = std::to_string(u);
  } else {
    magnitude = arg.big.magnitude;
  }
  int base = 10;
  switch (spec.verb) {
    case 'b': base = 2; break;
    case 'o':
    case 'O': base = 8; break;
    case 'x':
    case 'X': base = 16; break;
    default: break;
  }
  FormatIntegerDigits(out, negative, DecimalToBase(magnitude, base), base, spec);
}

void FormatFloat(std::string& out, double d, const FormatSpec& spec) {
  const char verb = spec.verb == 'v' ? 'g' : static_cast<char>(spec.verb);
  std::string body;
  if ((verb == 'g' || verb == 'G') && !spec.has_precision) {
    body = ShortestFloat(d, verb == 'G');
    if (body[0] != '-' && body[0] != '+') {
      if (spec.plus)
        body.insert(0, "+");
      else if (spec.space)
        body.insert(0, " ");
    }
    Pad(out, body, spec, std::isfinite(d));
    return;
  }
  std::string format = "%";
  if (spec.plus) format += '+';
  if (spec.space) format += ' ';
  if (spec.sharp) format += '#';
  if (spec.minus) format += '-';
  if (spec.zero && !spec.minus) format += '0';
  if (spec.has_width) format += std::to_string(std::min(spec.width, 1000));
  if (spec.has_precision) format += "." + std::to_string(std::min(spec.precision, 1000));
  format += verb == 'x' ? 'a' : verb == 'X' ? 'A' : verb;
  std::vector<char> buffer(2200);
  std::snprintf(buffer.data(), buffer.size(), format.c_str(), d);
  body = buffer.data();
  if (verb == 'x' || verb == 'X') {
    // Go writes at least two exponent digits: 0x1.8p+00.
    const size_t p = body.find_first_of("pP");
    if (p != std::string::npos && p + 3 == body.size()) body.insert(p + 2, "0");
  }
  out += body;
}

void FormatString(std::string& out, std::string_view s, const FormatSpec& spec) {
  switch (spec.verb) {
    case 'v':
    case 's': {
      std::string_view body = s;
      if (spec.has_precision) {
        size_t pos = 0;
        for (int n = 0; n < spec.precision && pos < s.size(); ++n) pos += text::DecodeRune(s, pos).width;
        body = s.substr(0, pos);
      }
      Pad(out, body, spec, true);
      return;
    }
    case 'q': Pad(out, QuoteGo(s, '"', spec.plus), spec, true); return;
    case 'x':
    case 'X': {
      static constexpr char kLower[] = "0123456789abcdef";
      static constexpr char kUpper[] = "0123456789ABCDEF";
      const char* digits = spec.verb == 'x' ? kLower : kUpper;
      std::string body;
      size_t count = s.size();
      if (spec.has_precision) count = std::min(count, static_cast<size_t>(std::max(spec.precision, 0)));
      for (size_t i = 0; i < count; ++i) {
        if (spec.space && i > 0) body.push_back(' ');
        if (spec.sharp && (i == 0 || spec.space)) body += spec.verb == 'x' ? "0x" : "0X";
        const auto b = static_cast<uint8_t>(s[i]);
        body.push_back(digits[b >> 4]);
        body.push_back(digits[b & 0xF]);
      }
      Pad(out, body, spec, true);
      return;
    }
    default: {
      FormatArg arg;
      arg.string = std::string(s);
      BadVerb(out, spec.verb, arg);
    }
  }
}

void FormatOne(std::string& out, const FormatArg& arg, const FormatSpec& spec) {
  switch (arg.type) {
    case FormatArg::Type::kInt:
    case FormatArg::Type::kBigInt:
      switch (spec.verb) {
        case 'v':
        case 'd':
        case 'b':
        case 'o':
        case 'O':
        case 'x':
        case 'X': FormatInteger(out, arg, spec); return;
        case 's':
          if (arg.type == FormatArg::Type::kBigInt) {
            FormatInteger(out, arg, spec);
            return;
          }
          break;
        case 'c':
        case 'q':
        case 'U':
          if (arg.type == FormatArg::Type::kInt) {
            const char32_t r =
                arg.integer < 0 || arg.integer > 0x10FFFF ? text::kReplacementRune : static_cast<char32_t>(arg.integer);
            std::string body;
            if (spec.verb == 'c') {
              text::AppendRune(body, r);
            } else if (spec.verb == 'q') {
              std::string encoded;
              text::AppendRune(encoded, r);
              body = QuoteGo(encoded, '\'', spec.plus);
            } else {
              std::array<char, 32> buffer{};
              std::snprintf(buffer.data(), buffer.size(), "U+%04llX",
                            static_cast<unsigned long long>(static_cast<uint64_t>(arg.integer)));
              body = buffer.data();
              if (spec.sharp && IsPrintRune(r)) {
                body += " '";
                text::AppendRune(body, r);
                body += "'";
              }
            }
            Pad(out, body, spec, false);
            return;
          }
          break;
        default: break;
      }
      BadVerb(out, spec.verb, arg);
      return;
    case FormatArg::Type::kFloat:
      switch (spec.verb) {
        case 'v':
        case 'e':
        case 'E':
        case 'f':
        case 'F':
        case 'g':
        case 'G':
        case 'x':
        case 'X': FormatFloat(out, arg.floating, spec); return;
        default: BadVerb(out, spec.verb, arg); return;
      }
    case FormatArg::Type::kString: FormatString(out, arg.string, spec); return;
  }
}

std::string GoSprintf(std::string_view format, const std::vector<FormatArg>& args) {
  std::string out;
  size_t next_arg = 0;
  size_t i = 0;
  // Widths and precisions are bounded so a hostile format cannot ask for
  // gigabytes of padding (Go itself refuses widths above 1e6).
  constexpr int kMaxWidth = 1000000;
  const auto parse_number = [&](int& value) {
    bool any = false;
    value = 0;
    while (i < format.size() && format[i] >= '0' && format[i] <= '9') {
      value = std::min(value * 10 + (format[i] - '0'), kMaxWidth + 1);
      ++i;
      any = true;
    }
    return any;
  };
  while (i < format.size()) {
    const size_t percent = format.find('%', i);
    if (percent == std::string_view::npos) {
      out.append(format.substr(i));
      break;
    }
    out.append(format.substr(i, percent - i));
    i = percent + 1;
    FormatSpec spec;
    for (; i < format.size(); ++i) {
      const char c = format[i];
      if (c == '+')
        spec.plus = true;
      else if (c == '-')
        spec.minus = true, spec.zero = false;
      else if (c == '#')
        spec.sharp = true;
      else if (c == ' ')
        spec.space = true;
      else if (c == '0')
        spec.zero = !spec.minus;
      else
        break;
    }
    bool bad_width = false;
    if (i < format.size() && format[i] == '*') {
      ++i;
      if (next_arg < args.size() && args[next_arg].type == FormatArg::Type::kInt &&
          std::abs(args[next_arg].integer) <= kMaxWidth) {
        spec.has_width = true;
        spec.width = static_cast<int>(args[next_arg].integer);
        if (spec.width < 0) {
          spec.minus = true;
          spec.zero = false;
          spec.width = -spec.width;
        }
      } else {
        bad_width = true;
      }
      ++next_arg;
    } else {
      spec.has_width = parse_number(spec.width);
      if (spec.width > kMaxWidth) bad_width = true, spec.has_width = false;
    }
    if (bad_width) out += "%!(BADWIDTH)";
    bool bad_precision = false;
    if (i < format.size() && format[i] == '.') {
      ++i;
      spec.has_precision = true;
      if (i < format.size() && format[i] == '*') {
        ++i;
        if (next_arg < args.size() && args[next_arg].type == FormatArg::Type::kInt && args[next_arg].integer >= 0 &&
            args[next_arg].integer <= kMaxWidth) {
          spec.precision = static_cast<int>(args[next_arg].integer);
        } else {
          bad_precision = true;
          spec.has_precision = false;
        }
        ++next_arg;
      } else {
        parse_number(spec.precision);
        if (spec.precision > kMaxWidth) bad_precision = true, spec.has_precision = false;
      }
    }
    if (bad_precision) out += "%!(BADPREC)";
    if (i >= format.size()) {
      out += "%!(NOVERB)";
      break;
    }
    const text::DecodedRune verb = text::DecodeRune(format, i);
    i += verb.width;
    spec.verb = verb.rune;
    if (verb.rune == '%') {
      out.push_back('%');
      continue;
    }
    if (next_arg >= args.size()) {
      out += "%!";
      text::AppendRune(out, verb.rune);
      out += "(MISSING)";
      continue;
    }
    FormatOne(out, args[next_arg++], spec);
  }
  if (next_arg < args.size()) {
    out += "%!(EXTRA ";
    for (size_t a = next_arg; a < args.size(); ++a) {
      if (a > next_arg) out += ", ";
      out += TypeName(args[a]) + "=" + PlainText(args[a]);
    }
    out += ")";
  }
  return out;
}

// ---------------------------------------------------------------------------
// units.parse and units.parse_bytes: exact decimal arithmetic on the amount.

// A decimal amount: (-1)^negative * digits * 10^exponent.
struct Decimal {
  bool negative = false;
  std::string digits;  // no leading zeros; "0" for zero
  int64_t exponent = 0;
};

// Go's big.Rat/big.Float SetString for [+-]digits[.digits][e[+-]digits].
std::optional<Decimal> ParseDecimal(std::string_view s) {
  Decimal d;
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) d.negative = s[i++] == '-';
  bool any_digit = false, seen_point = false;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (c >= '0' && c <= '9') {
      d.digits.push_back(c);
      any_digit = true;
      if (seen_point) --d.exponent;
    } else if (c == '.' && !seen_point) {
      seen_point = true;
    } else {
      break;
    }
  }
  if (!any_digit) return std::nullopt;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    bool exp_negative = false;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) exp_negative = s[i++] == '-';
    if (i >= s.size()) return std::nullopt;
    int64_t exp = 0;
    for (; i < s.size(); ++i) {
      if (s[i] < '0' || s[i] > '9') return std::nullopt;
      exp = std::min<int64_t>(exp * 10 + (s[i] - '0'), 100000000);
    }
    d.exponent += exp_negative ? -exp : exp;
  }
  if (i != s.size()) return std::nullopt;
  const size_t nonzero = d.digits.find_first_not_of('0');
  d.digits = nonzero == std::string::npos ? "0" : d.digits.substr(nonzero);
  return d;
}

void MultiplyDecimal(Decimal& d, uint64_t factor) {
  std::string out;
  uint64_t carry = 0;
  for (auto it = d.digits.rbegin(); it != d.digits.rend(); ++it) {
    const uint64_t v = static_cast<uint64_t>(*it - '0') * factor + carry;
    out.push_back(static_cast<char>('0' + static_cast<int>(v % 10)));
    carry = v / 10;
  }
  while (carry > 0) {
    out.push_back(static_cast<char>('0' + static_cast<int>(carry % 10)));
    carry /= 10;
  }
  std::reverse(out.begin(), out.end());
  const size_t nonzero = out.find_first_not_of('0');
  d.digits = nonzero == std::string::npos ? "0" : out.substr(nonzero);
}

// The value as a Rego number: exact when integral, else with `fraction_digits`
// decimals rounded half away from zero (big.Rat.FloatString), or truncated
// toward zero when `truncate` (big.Float.Int).
Result<Number> DecimalToNumber(Decimal d, bool truncate, size_t fraction_digits = 10) {
  // Trailing zeros of the digits move into the exponent.
  while (d.digits.size() > 1 && d.digits.back() == '0') {
    d.digits.pop_back();
    ++d.exponent;
  }
  const std::string sign = d.negative && d.digits != "0" ? "-" : "";
  // Far beyond any quantity a policy deals with; stays a float like
  // OPA's huge results compare.
  constexpr int64_t kMaxDigits = 4096;
  if (d.exponent >= 0) {
    if (d.digits == "0") return Number::Int(0);
    if (d.exponent + static_cast<int64_t>(d.digits.size()) > kMaxDigits) {
      return Number::Parse(sign + d.digits + "e" + std::to_string(d.exponent));
    }
    return Number::Parse(sign + d.digits + std::string(static_cast<size_t>(d.exponent), '0'));
  }
  const auto scale = static_cast<size_t>(-d.exponent);
  if (scale > kMaxDigits) {
    if (truncate) return Number::Int(0);
    return Number::Parse(sign + d.digits + "e" + std::to_string(d.exponent));
  }
  std::string digits = d.digits;
  if (digits.size() <= scale) digits.insert(0, scale - digits.size() + 1, '0');
  std::string integer = digits.substr(0, digits.size() - scale);
  std::string fraction = digits.substr(digits.size() - scale);
  if (truncate) return Number::Parse(sign + integer);
  if (fraction.size() > fraction_digits) {
    const bool round_up = fraction[fraction_digits] >= '5';
    fraction.resize(fraction_digits);
    if (round_up) {
      std::string whole = integer + fraction;
      int i = static_cast<int>(whole.size()) - 1;
      for (; i >= 0 && whole[static_cast<size_t>(i)] == '9'; --i) whole[static_cast<size_t>(i)] = '0';
      if (i < 0) {
        whole.insert(0, "1");
      } else {
        ++whole[static_cast<size_t>(i)];
      }
      integer = whole.substr(0, whole.size() - fraction_digits);
      fraction = whole.substr(whole.size() - fraction_digits);
    }
  }
  return Number::Parse(sign + integer + "." + fraction);
}

// OPA's split of "10.5Gi" into amount and unit; exponents longer than six
// digits are refused.
struct AmountAndUnit {
  std::string amount;
  std::string unit;
  bool exponent_too_large = false;
};

AmountAndUnit SplitAmount(std::string_view s) {
  const auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  size_t boundary = std::string_view::npos;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (!is_digit(c) && c != '.' && c != 'e' && c != 'E' && c != '+' && c != '-') {
      boundary = i;
      break;
    }
    if (c == 'e' || c == 'E') {
      if (i + 1 == s.size() || (!is_digit(s[i + 1]) && s[i + 1] != '+' && s[i + 1] != '-')) {
        boundary = i;
        break;
      }
      if (s[i + 1] == '+' || s[i + 1] == '-') ++i;
      size_t end = i + 1;
      while (end < s.size() && is_digit(s[end])) ++end;
      if (end - (i + 1) > 6) return {"", "", true};
    }
  }
  if (boundary == std::string_view::npos) return {std::string(s), "", false};
  return {std::string(s.substr(0, boundary)), std::string(s.substr(boundary)), false};
}

std::string WithoutQuotes(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c != '"') out.push_back(c);
  }
  return out;
}

constexpr uint64_t kKi = 1ULL << 10, kMi = 1ULL << 20, kGi = 1ULL << 30, kTi = 1ULL << 40, kPi = 1ULL << 50,
                   kEi = 1ULL << 60;
constexpr uint64_t kK = 1000, kM = kK * 1000, kG = kM * 1000, kT = kG * 1000, kP = kT * 1000, kE = kP * 1000;

Result<Value> UnitsParse(std::span<const Value> ops) {
  constexpr std::string_view kName = "units.parse";
  auto raw = StringOperand(kName, ops, 0);
  if (!raw) return Fail(raw.error());
  const std::string s = WithoutQuotes(*raw);
  if (s.find(' ') != std::string::npos) return Fail(BuiltinError(kName, "spaces not allowed in resource strings"));
  AmountAndUnit parts = SplitAmount(s);
  if (parts.exponent_too_large) return Fail(BuiltinError(kName, "exponent too large"));
  if (parts.amount.empty()) return Fail(BuiltinError(kName, "no amount provided"));
  std::string unit = parts.unit;
  // Only the letters after the first are case-insensitive: m is milli, M mega.
  if (unit.size() > 1) {
    std::transform(unit.begin() + 1, unit.end(), unit.begin() + 1,
                   [](char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c); });
  }
  struct UnitFactor {
    std::string_view name;
    uint64_t factor;
  };
  static constexpr std::array<UnitFactor, 24> kUnits = {{
      {"", 1},   {"k", kK}, {"K", kK},   {"ki", kKi}, {"Ki", kKi}, {"M", kM}, {"mi", kMi}, {"Mi", kMi},
      {"g", kG}, {"G", kG}, {"gi", kGi}, {"Gi", kGi}, {"t", kT},   {"T", kT}, {"ti", kTi}, {"Ti", kTi},
      {"p", kP}, {"P", kP}, {"pi", kPi}, {"Pi", kPi}, {"e", kE},   {"E", kE}, {"ei", kEi}, {"Ei", kEi},
  }};
  std::optional<uint64_t> factor;
  bool milli = false;
  if (unit == "m") {
    milli = true;
  } else {
    for (const UnitFactor& u : kUnits) {
      if (u.name == unit) factor = u.factor;
    }
    if (!factor) return Fail(BuiltinError(kName, "unit " + unit + " not recognized"));
  }
  std::optional<Decimal> amount = ParseDecimal(parts.amount);
  if (!amount) return Fail(BuiltinError(kName, "could not parse amount to a number"));
  if (milli) {
    amount->exponent -= 3;
  } else {
    MultiplyDecimal(*amount, *factor);
  }
  auto n = DecimalToNumber(*amount, false);
  if (!n) return Fail(BuiltinError(kName, "could not parse amount to a number"));
  return Value::Num(*n);
}

Result<Value> UnitsParseBytes(std::span<const Value> ops) {
  constexpr std::string_view kName = "units.parse_bytes";
  auto raw = StringOperand(kName, ops, 0);
  if (!raw) return Fail(raw.error());
  std::string s = WithoutQuotes(MapCaseString(*raw, false));
  if (s.find(' ') != std::string::npos) return Fail(BuiltinError(kName, "spaces not allowed in resource strings"));
  AmountAndUnit parts = SplitAmount(s);
  if (parts.exponent_too_large) return Fail(BuiltinError(kName, "exponent too large"));
  if (parts.amount.empty()) return Fail(BuiltinError(kName, "no byte amount provided"));
  struct UnitFactor {
    std::string_view name;
    uint64_t factor;
  };
  static constexpr std::array<UnitFactor, 25> kUnits = {{
      {"", 1},      {"kb", kK},   {"k", kK},    {"kib", kKi}, {"ki", kKi},  {"mb", kM},   {"m", kM},
      {"mib", kMi}, {"mi", kMi},  {"gb", kG},   {"g", kG},    {"gib", kGi}, {"gi", kGi},  {"tb", kT},
      {"t", kT},    {"tib", kTi}, {"ti", kTi},  {"pb", kP},   {"p", kP},    {"pib", kPi}, {"pi", kPi},
      {"eb", kE},   {"e", kE},    {"eib", kEi}, {"ei", kEi},
  }};
  std::optional<uint64_t> factor;
  for (const UnitFactor& u : kUnits) {
    if (u.name == parts.unit) factor = u.factor;
  }
  if (!factor) return Fail(BuiltinError(kName, "byte unit " + parts.unit + " not recognized"));
  std::optional<Decimal> amount = ParseDecimal(parts.amount);
  if (!amount) return Fail(BuiltinError(kName, "could not parse byte amount to a number"));
  MultiplyDecimal(*amount, *factor);
  auto n = DecimalToNumber(*amount, true);
  if (!n) return Fail(BuiltinError(kName, "could not parse byte amount to a number"));
  return Value::Num(*n);
}

// ---------------------------------------------------------------------------
// The builtins.

// Builtins whose operands are all strings. `body` takes the strings, and
// optionally the operands themselves (to return one unchanged).
template <size_t N, typename F>
BuiltinFunction Strings(std::string_view name, F body) {
  return [name, body](std::span<const Value> ops) -> Result<Value> {
    std::array<std::string_view, N> args;
    for (size_t i = 0; i < N; ++i) {
      auto s = StringOperand(name, ops, i);
      if (!s) return Fail(s.error());
      args[i] = *s;
    }
    if constexpr (std::is_invocable_v<F, const std::array<std::string_view, N>&, std::span<const Value>>) {
      return body(args, ops);
    } else {
      return body(args);
    }
  };
}

Result<Value> Concat(std::span<const Value> ops) {
  constexpr std::string_view kName = "concat";
  auto delimiter = StringOperand(kName, ops, 0);
  if (!delimiter) return Fail(delimiter.error());
  if (!ops[1].is_array() && !ops[1].is_set()) return Fail(OperandTypeError(kName, 2, "one of {set, array}", ops[1]));
  auto parts = text::StringSliceOperand(kName, ops[1], 2);
  if (!parts) return Fail(parts.error());
  size_t size = parts->empty() ? 0 : delimiter->size() * (parts->size() - 1);
  for (std::string_view part : *parts) size += part.size();
  std::string out;
  out.reserve(size);
  for (size_t i = 0; i < parts->size(); ++i) {
    if (i > 0) out.append(*delimiter);
    out.append((*parts)[i]);
  }
  return Str(std::move(out));
}

Result<Value> FormatInt(std::span<const Value> ops) {
  constexpr std::string_view kName = "format_int";
  if (!ops[0].is_number()) return Fail(OperandTypeError(kName, 1, "number", ops[0]));
  if (!ops[1].is_number()) return Fail(OperandTypeError(kName, 2, "number", ops[1]));
  const Number& base_number = ops[1].as_number();
  const std::optional<int64_t> base = base_number.is_integer() ? base_number.ToInt64() : std::nullopt;
  if (!base || (*base != 2 && *base != 8 && *base != 10 && *base != 16)) {
    return Fail(OperandError(kName, 2, "must be one of {2, 8, 10, 16}"));
  }
  const IntegerText integer = TruncatedInteger(ops[0].as_number());
  return Str((integer.negative ? "-" : "") + DecimalToBase(integer.magnitude, static_cast<int>(*base)));
}

Result<Value> IndexOf(std::span<const Value> ops, bool all) {
  const std::string_view name = all ? "indexof_n" : "indexof";
  auto base = StringOperand(name, ops, 0);
  if (!base) return Fail(base.error());
  auto search = StringOperand(name, ops, 1);
  if (!search) return Fail(search.error());
  if (search->empty()) return Fail(BuiltinError(name, "empty search character"));
  const std::vector<char32_t> haystack = text::ToRunes(*base);
  const std::vector<char32_t> needle = text::ToRunes(*search);
  const std::vector<size_t> hits = text::FindAllOverlapping<char32_t>(haystack, needle, all ? SIZE_MAX : 1);
  if (!all) return Value::Int(hits.empty() ? -1 : static_cast<int64_t>(hits[0]));
  Value::Array out;
  out.reserve(hits.size());
  for (size_t h : hits) out.push_back(Value::Int(static_cast<int64_t>(h)));
  return Value::FromArray(std::move(out));
}

Result<Value> Substring(std::span<const Value> ops) {
  constexpr std::string_view kName = "substring";
  auto base = StringOperand(kName, ops, 0);
  if (!base) return Fail(base.error());
  auto start = IntOperand(kName, ops, 1);
  if (!start) return Fail(start.error());
  auto length = IntOperand(kName, ops, 2);
  if (!length) return Fail(length.error());
  if (*start < 0) return Fail(BuiltinError(kName, "negative offset"));
  const std::string_view s = *base;
  if (text::IsAscii(s)) {
    const auto offset = static_cast<uint64_t>(*start);
    if (offset >= s.size()) return Str("");
    const size_t count = *length < 0 ? std::string_view::npos : static_cast<size_t>(*length);
    return Str(std::string(s.substr(offset, count)));
  }
  const std::vector<char32_t> runes = text::ToRunes(s);
  const auto offset = static_cast<uint64_t>(*start);
  // The whole string comes back untouched (invalid bytes and all), as in OPA.
  if (offset == 0 && *length >= 0 && static_cast<uint64_t>(*length) >= runes.size()) return ops[0];
  if (offset >= runes.size()) return Str("");
  size_t end = runes.size();
  if (*length >= 0) end = std::min<uint64_t>(runes.size(), offset + static_cast<uint64_t>(*length));
  return Str(text::FromRunes(std::span<const char32_t>(runes).subspan(offset, end - offset)));
}

Result<Value> Split(std::string_view s, std::string_view delimiter) {
  Value::Array out;
  if (delimiter.empty()) {
    // Go's explode: one element per UTF-8 sequence (or invalid byte).
    for (size_t pos = 0; pos < s.size();) {
      const size_t width = text::DecodeRune(s, pos).width;
      out.push_back(Value::String(std::string(s.substr(pos, width))));
      pos += width;
    }
    return Value::FromArray(std::move(out));
  }
  const text::Finder finder(delimiter);
  size_t last = 0;
  for (size_t hit = finder.Find(s); hit != std::string_view::npos; hit = finder.Find(s, last)) {
    out.push_back(Value::String(std::string(s.substr(last, hit - last))));
    last = hit + delimiter.size();
  }
  out.push_back(Value::String(std::string(s.substr(last))));
  return Value::FromArray(std::move(out));
}

// strings.split_n keeps the first n parts (n > 0) or the last -n parts
// (n < 0) of a full split and drops the rest; n == 0 gives no parts.
Result<Value> SplitN(std::span<const Value> ops) {
  constexpr std::string_view kName = "strings.split_n";
  auto s = StringOperand(kName, ops, 0);
  if (!s) return Fail(s.error());
  auto delimiter = StringOperand(kName, ops, 1);
  if (!delimiter) return Fail(delimiter.error());
  auto n = IntOperand(kName, ops, 2);
  if (!n) return Fail(n.error());
  auto all = Split(*s, *delimiter);
  if (!all) return all;
  const Value::Array& parts = all->as_array();
  const uint64_t keep = *n < 0 ? 0 - static_cast<uint64_t>(*n) : static_cast<uint64_t>(*n);
  if (keep >= parts.size()) return all;
  const auto count = static_cast<std::ptrdiff_t>(keep);
  if (*n > 0) return Value::FromArray(Value::Array(parts.begin(), parts.begin() + count));
  return Value::FromArray(Value::Array(parts.end() - count, parts.end()));
}

Result<Value> ReplaceN(std::span<const Value> ops) {
  constexpr std::string_view kName = "strings.replace_n";
  if (!ops[0].is_object()) return Fail(OperandTypeError(kName, 1, "object", ops[0]));
  auto s = StringOperand(kName, ops, 1);
  if (!s) return Fail(s.error());
  std::vector<std::pair<std::string_view, std::string_view>> pairs;
  // The object's keys are already in OPA's order, which is the replacer's
  // priority order.
  for (const auto& [key, value] : ops[0].as_object()) {
    if (!key.is_string()) return Fail(OperandError(kName, 1, "non-string key found in pattern object"));
    if (!value.is_string()) return Fail(OperandError(kName, 1, "non-string value found in pattern object"));
    pairs.emplace_back(key.as_string(), value.as_string());
  }
  if (pairs.empty()) return Str(std::string(*s));
  return Str(ReplaceAll(*s, pairs));
}

Result<Value> Sprintf(std::span<const Value> ops) {
  constexpr std::string_view kName = "sprintf";
  auto format = StringOperand(kName, ops, 0);
  if (!format) return Fail(format.error());
  if (!ops[1].is_array()) return Fail(OperandTypeError(kName, 2, "array", ops[1]));
  std::vector<FormatArg> args;
  for (const Value& v : ops[1].as_array()) args.push_back(ToFormatArg(v));
  return Str(GoSprintf(*format, args));
}

// any_prefix_match/any_suffix_match take a string or a collection of strings.
Result<std::vector<std::string_view>> StringOrStrings(std::string_view name, const Value& v, int operand) {
  if (v.is_string()) return std::vector<std::string_view>{v.as_string()};
  if (v.is_array() || v.is_set()) return text::StringSliceOperand(name, v, operand);
  return Fail(OperandTypeError(name, operand, "one of {string, set, array}", v));
}

Result<Value> AnyMatch(std::span<const Value> ops, bool suffix) {
  const std::string_view name = suffix ? "strings.any_suffix_match" : "strings.any_prefix_match";
  auto strings = StringOrStrings(name, ops[0], 1);
  if (!strings) return Fail(strings.error());
  auto affixes = StringOrStrings(name, ops[1], 2);
  if (!affixes) return Fail(affixes.error());
  for (std::string_view s : *strings) {
    for (std::string_view a : *affixes) {
      if (suffix ? s.ends_with(a) : s.starts_with(a)) return Value::Bool(true);
    }
  }
  return Value::Bool(false);
}

Result<Value> Reverse(std::string_view s) {
  std::string out(s.size(), '\0');
  size_t end = s.size();
  for (size_t pos = 0; pos < s.size();) {
    const size_t width = text::DecodeRune(s, pos).width;
    end -= width;
    std::copy_n(s.begin() + static_cast<std::ptrdiff_t>(pos), width, out.begin() + static_cast<std::ptrdiff_t>(end));
    pos += width;
  }
  return Str(std::move(out));
}

Result<Value> Count(std::string_view s, std::string_view needle) {
  if (needle.empty()) return Value::Int(static_cast<int64_t>(text::RuneCount(s) + 1));
  const text::Finder finder(needle);
  int64_t count = 0;
  for (size_t hit = finder.Find(s); hit != std::string_view::npos; hit = finder.Find(s, hit + needle.size())) {
    ++count;
  }
  return Value::Int(count);
}

void Add(BuiltinRegistry& registry, std::string name, int arity, BuiltinFunction function) {
  registry.Add(Builtin{std::move(name), arity, std::move(function), false});
}

}  // namespace

void RegisterStringBuiltins(BuiltinRegistry& registry) {
  using A1 = std::array<std::string_view, 1>;
  using A2 = std::array<std::string_view, 2>;
  using A3 = std::array<std::string_view, 3>;
  Add(registry, "concat", 2, Concat);
  Add(registry, "contains", 2,
      Strings<2>("contains", [](const A2& a) -> Result<Value> { return Value::Bool(a[0].find(a[1]) != a[0].npos); }));
  Add(registry, "startswith", 2,
      Strings<2>("startswith", [](const A2& a) -> Result<Value> { return Value::Bool(a[0].starts_with(a[1])); }));
  Add(registry, "endswith", 2,
      Strings<2>("endswith", [](const A2& a) -> Result<Value> { return Value::Bool(a[0].ends_with(a[1])); }));
  Add(registry, "format_int", 2, FormatInt);
  Add(registry, "indexof", 2, [](std::span<const Value> ops) { return IndexOf(ops, false); });
  Add(registry, "indexof_n", 2, [](std::span<const Value> ops) { return IndexOf(ops, true); });
  Add(registry, "lower", 1, Strings<1>("lower", [](const A1& a) { return Str(MapCaseString(a[0], false)); }));
  Add(registry, "upper", 1, Strings<1>("upper", [](const A1& a) { return Str(MapCaseString(a[0], true)); }));
  Add(registry, "replace", 3, Strings<3>("replace", [](const A3& a, std::span<const Value> ops) -> Result<Value> {
        // Policies substitute placeholders that are mostly absent: share the
        // operand instead of copying it.
        if (!a[1].empty() && a[0].find(a[1]) == std::string_view::npos) return ops[0];
        const std::pair<std::string_view, std::string_view> pair{a[1], a[2]};
        return Str(ReplaceAll(a[0], std::span(&pair, 1)));
      }));
  Add(registry, "strings.replace_n", 2, ReplaceN);
  Add(registry, "strings.split_n", 3, SplitN);
  Add(registry, "split", 2, Strings<2>("split", [](const A2& a) { return Split(a[0], a[1]); }));
  Add(registry, "sprintf", 2, Sprintf);
  Add(registry, "substring", 3, Substring);
  Add(registry, "trim", 2, Strings<2>("trim", [](const A2& a) {
        const Cutset cut(a[1]);
        const auto in_cut = [&](char32_t r) { return cut.Contains(r); };
        return Str(std::string(TrimRightRunes(TrimLeftRunes(a[0], in_cut), in_cut)));
      }));
  Add(registry, "trim_left", 2, Strings<2>("trim_left", [](const A2& a) {
        const Cutset cut(a[1]);
        return Str(std::string(TrimLeftRunes(a[0], [&](char32_t r) { return cut.Contains(r); })));
      }));
  Add(registry, "trim_right", 2, Strings<2>("trim_right", [](const A2& a) {
        const Cutset cut(a[1]);
        return Str(std::string(TrimRightRunes(a[0], [&](char32_t r) { return cut.Contains(r); })));
      }));
  Add(registry, "trim_prefix", 2, Strings<2>("trim_prefix", [](const A2& a) {
        return Str(std::string(a[0].starts_with(a[1]) ? a[0].substr(a[1].size()) : a[0]));
      }));
  Add(registry, "trim_suffix", 2, Strings<2>("trim_suffix", [](const A2& a) {
        return Str(std::string(a[0].ends_with(a[1]) ? a[0].substr(0, a[0].size() - a[1].size()) : a[0]));
      }));
  Add(registry, "trim_space", 1, Strings<1>("trim_space", [](const A1& a) {
        return Str(std::string(TrimRightRunes(TrimLeftRunes(a[0], IsSpaceRune), IsSpaceRune)));
      }));
  Add(registry, "strings.reverse", 1, Strings<1>("strings.reverse", [](const A1& a) { return Reverse(a[0]); }));
  Add(registry, "strings.count", 2, Strings<2>("strings.count", [](const A2& a) { return Count(a[0], a[1]); }));
  Add(registry, "strings.any_prefix_match", 2, [](std::span<const Value> ops) { return AnyMatch(ops, false); });
  Add(registry, "strings.any_suffix_match", 2, [](std::span<const Value> ops) { return AnyMatch(ops, true); });
  Add(registry, "units.parse", 1, UnitsParse);
  Add(registry, "units.parse_bytes", 1, UnitsParseBytes);
}

}  // namespace contrast::policy::rego
