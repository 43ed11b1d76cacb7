// Encoding builtins: base64, hex, JSON, URL query, YAML and digests. Error
// texts and edge cases follow the Go libraries OPA calls (encoding/base64
// skips CR/LF and accepts non-canonical trailing bits, json.Marshal escapes
// <, > and &, url.QueryEscape writes spaces as '+').
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

#include "policy/rego/builtins.h"
#include "policy/rego/builtins_text.h"

namespace contrast::policy::rego {
namespace {

using text::BuiltinError;
using text::OperandError;
using text::StringOperand;

// ---------------------------------------------------------------------------
// base64 (RFC 4648), with Go's decoder rules.

constexpr std::string_view kStdAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view kUrlAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string Base64Encode(std::string_view data, std::string_view alphabet, bool pad) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  const auto byte = [&](size_t k) { return static_cast<uint32_t>(static_cast<uint8_t>(data[k])); };
  for (; i + 3 <= data.size(); i += 3) {
    const uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    for (int shift = 18; shift >= 0; shift -= 6) out.push_back(alphabet[(v >> shift) & 0x3F]);
  }
  const size_t rest = data.size() - i;
  if (rest > 0) {
    uint32_t v = byte(i) << 16;
    if (rest == 2) v |= byte(i + 1) << 8;
    out.push_back(alphabet[(v >> 18) & 0x3F]);
    out.push_back(alphabet[(v >> 12) & 0x3F]);
    if (rest == 2) out.push_back(alphabet[(v >> 6) & 0x3F]);
    if (pad) out.append(rest == 2 ? 1 : 2, '=');
  }
  return out;
}

// Go's base64.Encoding.DecodeString with padding required. On failure the
// text is Go's "illegal base64 data at input byte N".
// The 6-bit value of each byte in one of the two alphabets, -1 outside it.
const std::array<int8_t, 256>& DecodeTable(std::string_view alphabet) {
  static const auto build = [](std::string_view letters) {
    std::array<int8_t, 256> table{};
    table.fill(-1);
    for (size_t k = 0; k < letters.size(); ++k) table[static_cast<uint8_t>(letters[k])] = static_cast<int8_t>(k);
    return table;
  };
  static const std::array<int8_t, 256> standard = build(kStdAlphabet);
  static const std::array<int8_t, 256> url = build(kUrlAlphabet);
  return alphabet == kUrlAlphabet ? url : standard;
}

Result<std::string> Base64Decode(std::string_view src, std::string_view alphabet) {
  const std::array<int8_t, 256>& table = DecodeTable(alphabet);
  const auto corrupt = [](size_t at) {
    return Fail(ErrorCode::kFailedPrecondition, "illegal base64 data at input byte " + std::to_string(at));
  };
  const auto skip_newlines = [&](size_t& at) {
    while (at < src.size() && (src[at] == '\n' || src[at] == '\r')) ++at;
  };
  std::string out;
  out.reserve(src.size() / 4 * 3 + 3);
  size_t si = 0;
  // Whole quanta of four alphabet bytes, the common case, in one pass; the
  // loop below takes over at the first padding, newline or bad byte.
  while (si + 4 < src.size()) {
    const int a = table[static_cast<uint8_t>(src[si])];
    const int b = table[static_cast<uint8_t>(src[si + 1])];
    const int c = table[static_cast<uint8_t>(src[si + 2])];
    const int d = table[static_cast<uint8_t>(src[si + 3])];
    if ((a | b | c | d) < 0) break;
    const uint32_t v = (static_cast<uint32_t>(a) << 18) | (static_cast<uint32_t>(b) << 12) |
                       (static_cast<uint32_t>(c) << 6) | static_cast<uint32_t>(d);
    out.push_back(static_cast<char>(v >> 16));
    out.push_back(static_cast<char>((v >> 8) & 0xFF));
    out.push_back(static_cast<char>(v & 0xFF));
    si += 4;
  }
  while (true) {
    std::array<int, 4> quantum{};
    size_t length = 4;
    size_t j = 0;
    bool done = false;
    for (; j < 4; ++j) {
      skip_newlines(si);
      if (si == src.size()) {
        if (j == 0) return out;
        return corrupt(si - j);
      }
      const char c = src[si++];
      if (c == '=') {
        if (j < 2) return corrupt(si - 1);
        if (j == 2) {
          // "==" is expected.
          skip_newlines(si);
          if (si == src.size()) return corrupt(src.size());
          if (src[si] != '=') return corrupt(si - 1);
          ++si;
        }
        skip_newlines(si);
        if (si < src.size()) return corrupt(si);
        length = j;
        done = true;
        break;
      }
      const int v = table[static_cast<uint8_t>(c)];
      if (v < 0) return corrupt(si - 1);
      quantum[j] = v;
    }
    const uint32_t v = (static_cast<uint32_t>(quantum[0]) << 18) | (static_cast<uint32_t>(quantum[1]) << 12) |
                       (static_cast<uint32_t>(quantum[2]) << 6) | static_cast<uint32_t>(quantum[3]);
    out.push_back(static_cast<char>(v >> 16));
    if (length >= 3) out.push_back(static_cast<char>((v >> 8) & 0xFF));
    if (length >= 4) out.push_back(static_cast<char>(v & 0xFF));
    if (done) return out;
  }
}

Result<Value> Base64UrlDecode(std::span<const Value> ops) {
  constexpr std::string_view kName = "base64url.decode";
  auto arg = StringOperand(kName, ops, 0);
  if (!arg) return Fail(arg.error());
  std::string s(*arg);
  // Encoders that drop the padding are accepted (RFC 7515 appendix C).
  if (!s.ends_with('=')) {
    switch (s.size() % 4) {
      case 0: break;
      case 2: s += "=="; break;
      case 3: s += "="; break;
      default: return Fail(BuiltinError(kName, "illegal base64url string: " + s));
    }
  }
  auto decoded = Base64Decode(s, kUrlAlphabet);
  if (!decoded) return Fail(BuiltinError(kName, decoded.error().message));
  return Value::String(std::move(*decoded));
}

// ---------------------------------------------------------------------------
// hex (encoding/hex).

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Go's InvalidByteError: "U+0067 'g'" (%#U of the byte as a rune).
std::string InvalidHexByte(char c) {
  const auto b = static_cast<uint8_t>(c);
  std::array<char, 16> code{};
  std::snprintf(code.data(), code.size(), "U+%04X", b);
  std::string out = "encoding/hex: invalid byte: " + std::string(code.data());
  const bool printable = (b >= 0x20 && b < 0x7F) || (b >= 0xA1 && b != 0xAD);
  if (printable) {
    out += " '";
    text::AppendRune(out, b);
    out += "'";
  }
  return out;
}

Result<std::string> HexDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size() / 2);
  size_t j = 1;
  for (; j < s.size(); j += 2) {
    const int hi = HexValue(s[j - 1]);
    const int lo = HexValue(s[j]);
    if (hi < 0) return Fail(ErrorCode::kFailedPrecondition, InvalidHexByte(s[j - 1]));
    if (lo < 0) return Fail(ErrorCode::kFailedPrecondition, InvalidHexByte(s[j]));
    out.push_back(static_cast<char>((hi << 4) | lo));
  }
  if (s.size() % 2 == 1) {
    if (HexValue(s[j - 1]) < 0) return Fail(ErrorCode::kFailedPrecondition, InvalidHexByte(s[j - 1]));
    return Fail(ErrorCode::kFailedPrecondition, "encoding/hex: odd length hex string");
  }
  return out;
}

std::string HexEncode(std::string_view data) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (char c : data) {
    const auto b = static_cast<uint8_t>(c);
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xF]);
  }
  return out;
}

// ---------------------------------------------------------------------------
// JSON as Go's json.Marshal writes it.

void AppendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (size_t pos = 0; pos < s.size();) {
    const text::DecodedRune r = text::DecodeRune(s, pos);
    const bool invalid = r.rune == text::kReplacementRune && r.width == 1;
    const char32_t c = r.rune;
    pos += r.width;
    if (invalid) {
      out += "\\ufffd";
    } else if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\b') {
      out += "\\b";
    } else if (c == '\f') {
      out += "\\f";
    } else if (c < 0x20 || c == '<' || c == '>' || c == '&' || c == 0x2028 || c == 0x2029) {
      // Go escapes HTML-significant characters and the JavaScript line
      // separators too.
      out += "\\u";
      out.push_back(kHex[(c >> 12) & 0xF]);
      out.push_back(kHex[(c >> 8) & 0xF]);
      out.push_back(kHex[(c >> 4) & 0xF]);
      out.push_back(kHex[c & 0xF]);
    } else {
      text::AppendRune(out, c);
    }
  }
  out.push_back('"');
}

struct JsonLayout {
  bool pretty = false;
  std::string prefix;
  std::string indent;
};

void NewLine(std::string& out, const JsonLayout& layout, int depth) {
  out.push_back('\n');
  out += layout.prefix;
  for (int i = 0; i < depth; ++i) out += layout.indent;
}

// Object keys as OPA converts them for encoding: strings as they are, other
// values as their JSON text; Go then sorts the keys bytewise.
std::vector<std::pair<std::string, const Value*>> JsonMembers(const Value::Object& object) {
  std::map<std::string, const Value*> sorted;
  for (const auto& [key, value] : object) sorted[key.is_string() ? key.as_string() : key.ToJson()] = &value;
  return {sorted.begin(), sorted.end()};
}

void AppendJson(std::string& out, const Value& v, const JsonLayout& layout, int depth) {
  const auto sequence = [&](const auto& items) {
    if (items.empty()) {
      out += "[]";
      return;
    }
    out.push_back('[');
    bool first = true;
    for (const Value& item : items) {
      if (!first) out.push_back(',');
      first = false;
      if (layout.pretty) NewLine(out, layout, depth + 1);
      AppendJson(out, item, layout, depth + 1);
    }
    if (layout.pretty) NewLine(out, layout, depth);
    out.push_back(']');
  };
  switch (v.kind()) {
    case Kind::kNull: out += "null"; return;
    case Kind::kBool: out += v.as_bool() ? "true" : "false"; return;
    case Kind::kNumber: out += v.as_number().ToString(); return;
    case Kind::kString: AppendJsonString(out, v.as_string()); return;
    case Kind::kArray: sequence(v.as_array()); return;
    case Kind::kSet: sequence(v.as_set()); return;
    case Kind::kObject: {
      if (v.as_object().empty()) {
        out += "{}";
        return;
      }
      out.push_back('{');
      bool first = true;
      for (const auto& [key, value] : JsonMembers(v.as_object())) {
        if (!first) out.push_back(',');
        first = false;
        if (layout.pretty) NewLine(out, layout, depth + 1);
        AppendJsonString(out, key);
        out += layout.pretty ? ": " : ":";
        AppendJson(out, *value, layout, depth + 1);
      }
      if (layout.pretty) NewLine(out, layout, depth);
      out.push_back('}');
      return;
    }
  }
}

std::string GoJson(const Value& v, const JsonLayout& layout = {}) {
  std::string out;
  AppendJson(out, v, layout, 0);
  return out;
}

Result<Value> JsonMarshalWithOptions(std::span<const Value> ops) {
  constexpr std::string_view kName = "json.marshal_with_options";
  if (!ops[1].is_object()) return Fail(OperandTypeError(kName, 2, "object", ops[1]));
  JsonLayout layout;
  layout.indent = "\t";
  bool implicit_pretty = false;
  std::optional<bool> explicit_pretty;
  for (const auto& [key, value] : ops[1].as_object()) {
    if (!key.is_string()) return Fail(OperandError(kName, 2, "failed to stringify key " + key.ToRegoString()));
    const std::string& name = key.as_string();
    if (name == "prefix" || name == "indent") {
      if (!value.is_string()) return Fail(OperandError(kName, 2, "key " + name + " failed cast to string"));
      (name == "prefix" ? layout.prefix : layout.indent) = value.as_string();
      implicit_pretty = true;
    } else if (name == "pretty") {
      if (!value.is_bool()) return Fail(OperandError(kName, 2, "key " + name + " failed cast to bool"));
      explicit_pretty = value.as_bool();
    } else {
      return Fail(OperandError(kName, 2, "object contained unknown key " + name));
    }
  }
  layout.pretty = explicit_pretty.value_or(implicit_pretty);
  if (!layout.pretty) return Value::String(GoJson(ops[0]));
  return Value::String(layout.prefix + GoJson(ops[0], layout));
}

// ---------------------------------------------------------------------------
// URL query encoding (net/url).

std::string QueryEscape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    const auto b = static_cast<uint8_t>(c);
    if ((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') || b == '-' || b == '_' ||
        b == '.' || b == '~') {
      out.push_back(c);
    } else if (b == ' ') {
      out.push_back('+');
    } else {
      out.push_back('%');
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 0xF]);
    }
  }
  return out;
}

// strconv.Quote for the short excerpts in url.EscapeError.
std::string QuoteExcerpt(std::string_view s) {
  std::string out = "\"";
  static constexpr char kHex[] = "0123456789abcdef";
  for (char c : s) {
    const auto b = static_cast<uint8_t>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (b >= 0x20 && b < 0x7F) {
      out.push_back(c);
    } else {
      out += "\\x";
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 0xF]);
    }
  }
  return out + "\"";
}

Result<std::string> QueryUnescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 >= s.size() || HexValue(s[i + 1]) < 0 || HexValue(s[i + 2]) < 0) {
        return Fail(ErrorCode::kFailedPrecondition, "invalid URL escape " + QuoteExcerpt(s.substr(i, 3)));
      }
      out.push_back(static_cast<char>((HexValue(s[i + 1]) << 4) | HexValue(s[i + 2])));
      i += 2;
    } else if (s[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

Result<Value> UrlQueryEncodeObject(std::span<const Value> ops) {
  constexpr std::string_view kName = "urlquery.encode_object";
  if (!ops[0].is_object()) return Fail(OperandTypeError(kName, 1, "object", ops[0]));
  const Error values_error = OperandError(kName, 1, "values must be string, array[string], or set[string]");
  std::string out;
  const auto add = [&](const std::string& key, std::string_view value) {
    if (!out.empty()) out.push_back('&');
    out += QueryEscape(key) + "=" + QueryEscape(value);
  };
  for (const auto& [key, value] : JsonMembers(ops[0].as_object())) {
    if (value->is_string()) {
      add(key, value->as_string());
    } else if (value->is_array() || value->is_set()) {
      auto strings = text::StringSliceOperand(kName, *value, 1);
      if (!strings) return Fail(values_error);
      for (std::string_view s : *strings) add(key, s);
    } else {
      return Fail(values_error);
    }
  }
  return Value::String(std::move(out));
}

Result<Value> UrlQueryDecodeObject(std::span<const Value> ops) {
  constexpr std::string_view kName = "urlquery.decode_object";
  auto query = StringOperand(kName, ops, 0);
  if (!query) return Fail(query.error());
  std::map<std::string, Value::Array> params;
  std::optional<Error> first_error;
  std::string_view rest = *query;
  while (!rest.empty()) {
    const size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;
    if (pair.find(';') != std::string_view::npos) {
      if (!first_error) first_error = BuiltinError(kName, "invalid semicolon separator in query");
      continue;
    }
    const size_t eq = pair.find('=');
    auto key = QueryUnescape(pair.substr(0, eq));
    auto value = QueryUnescape(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    if (!key || !value) {
      if (!first_error) first_error = BuiltinError(kName, (!key ? key.error() : value.error()).message);
      continue;
    }
    params[*key].push_back(Value::String(std::move(*value)));
  }
  if (first_error) return Fail(*first_error);
  Value::Object out;
  for (auto& [key, values] : params) out.emplace(Value::String(key), Value::FromArray(std::move(values)));
  return Value::FromObject(std::move(out));
}

// ---------------------------------------------------------------------------
// YAML. Parsing uses yaml-cpp and resolves plain scalars as go-yaml v2 does
// (YAML 1.1: yes/no/on/off are booleans); marshalling writes go-yaml v2's
// block style.

constexpr size_t kMaxYamlNodes = 200000;  // aliases can multiply a small document
constexpr int kMaxYamlDepth = 512;

bool IsYamlNull(std::string_view s) { return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL"; }

std::optional<bool> YamlBool(std::string_view s) {
  static constexpr std::array<std::string_view, 12> kTrue = {"y",    "Y",    "yes", "Yes", "YES", "true",
                                                             "True", "TRUE", "on",  "On",  "ON",  "true"};
  static constexpr std::array<std::string_view, 12> kFalse = {"n",     "N",     "no",  "No",  "NO",  "false",
                                                              "False", "FALSE", "off", "Off", "OFF", "false"};
  if (std::find(kTrue.begin(), kTrue.end(), s) != kTrue.end()) return true;
  if (std::find(kFalse.begin(), kFalse.end(), s) != kFalse.end()) return false;
  return std::nullopt;
}

// Integers (decimal, 0x, 0o, 0b, leading-zero octal, '_' separators) and
// floats in go-yaml v2's resolver.
std::optional<Number> YamlNumber(std::string_view s) {
  std::string plain;
  for (char c : s) {
    if (c != '_') plain.push_back(c);
  }
  if (plain.empty()) return std::nullopt;
  bool negative = false;
  std::string_view body = plain;
  if (body[0] == '+' || body[0] == '-') {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  if (body.empty()) return std::nullopt;
  int base = 10;
  if (body.size() > 2 && body[0] == '0' && (body[1] == 'x' || body[1] == 'X')) {
    base = 16;
    body.remove_prefix(2);
  } else if (body.size() > 2 && body[0] == '0' && (body[1] == 'o' || body[1] == 'O')) {
    base = 8;
    body.remove_prefix(2);
  } else if (body.size() > 2 && body[0] == '0' && (body[1] == 'b' || body[1] == 'B')) {
    base = 2;
    body.remove_prefix(2);
  } else if (body.size() > 1 && body[0] == '0' && body.find_first_not_of("01234567") == std::string_view::npos) {
    base = 8;
    body.remove_prefix(1);
  }
  uint64_t magnitude = 0;
  auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), magnitude, base);
  if (ec == std::errc() && end == body.data() + body.size()) {
    if (base == 10) return Number::Parse(negative ? "-" + std::string(body) : std::string(body)).value_or(Number());
    if (magnitude <= static_cast<uint64_t>(INT64_MAX)) {
      const auto i = static_cast<int64_t>(magnitude);
      return Number::Int(negative ? -i : i);
    }
    return std::nullopt;
  }
  if (base == 10 && body.find_first_not_of("0123456789") == std::string_view::npos) {
    // Too large for 64 bits: still an exact integer for us.
    auto n = Number::Parse((negative ? "-" : "") + std::string(body));
    if (n) return *n;
  }
  // Floats: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
  if (base != 10 && base != 8) return std::nullopt;
  std::string_view f = plain;
  size_t i = (f[0] == '+' || f[0] == '-') ? 1 : 0;
  size_t int_digits = 0, frac_digits = 0;
  while (i < f.size() && f[i] >= '0' && f[i] <= '9') ++i, ++int_digits;
  if (i < f.size() && f[i] == '.') {
    ++i;
    while (i < f.size() && f[i] >= '0' && f[i] <= '9') ++i, ++frac_digits;
  }
  if (int_digits == 0 && frac_digits == 0) return std::nullopt;
  if (i < f.size() && (f[i] == 'e' || f[i] == 'E')) {
    ++i;
    if (i < f.size() && (f[i] == '+' || f[i] == '-')) ++i;
    size_t exp_digits = 0;
    while (i < f.size() && f[i] >= '0' && f[i] <= '9') ++i, ++exp_digits;
    if (exp_digits == 0) return std::nullopt;
  }
  if (i != f.size()) return std::nullopt;
  std::string literal(f[0] == '+' ? f.substr(1) : f);
  if (literal.starts_with('.') || literal.starts_with("-.")) literal.insert(literal[0] == '-' ? 1 : 0, "0");
  if (const size_t dot = literal.find('.');
      dot != std::string::npos && (dot + 1 == literal.size() || literal[dot + 1] == 'e' || literal[dot + 1] == 'E')) {
    literal.insert(dot + 1, "0");
  }
  auto n = Number::Parse(literal);
  if (!n) return std::nullopt;
  return *n;
}

struct YamlBudget {
  size_t nodes = 0;
};

Result<Value> YamlScalar(const YAML::Node& node) {
  const std::string& s = node.Scalar();
  const std::string& tag = node.Tag();
  if (tag == "!" || tag == "tag:yaml.org,2002:str") return Value::String(s);
  if (tag == "?" || tag.empty()) {
    if (IsYamlNull(s)) return Value::Null();
    if (auto b = YamlBool(s)) return Value::Bool(*b);
    if (auto n = YamlNumber(s)) return Value::Num(*n);
    if (s == ".inf" || s == ".Inf" || s == ".INF" || s == "+.inf" || s == "-.inf" || s == ".nan" || s == ".NaN" ||
        s == ".NAN") {
      return Fail(ErrorCode::kFailedPrecondition, "json: unsupported value: " + s);
    }
  }
  return Value::String(s);
}

Result<Value> YamlToValue(const YAML::Node& node, YamlBudget& budget, int depth) {
  if (++budget.nodes > kMaxYamlNodes) return Fail(ErrorCode::kFailedPrecondition, "document too large");
  if (depth > kMaxYamlDepth) return Fail(ErrorCode::kFailedPrecondition, "document nested too deeply");
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null: return Value::Null();
    case YAML::NodeType::Scalar: return YamlScalar(node);
    case YAML::NodeType::Sequence: {
      Value::Array items;
      for (const YAML::Node& item : node) {
        auto v = YamlToValue(item, budget, depth + 1);
        if (!v) return v;
        items.push_back(std::move(*v));
      }
      return Value::FromArray(std::move(items));
    }
    case YAML::NodeType::Map: {
      Value::Object members;
      for (const auto& member : node) {
        if (!member.first.IsScalar() && !member.first.IsNull()) {
          return Fail(ErrorCode::kFailedPrecondition, "unsupported map key type (non-scalar)");
        }
        std::string key;
        if (member.first.IsNull()) {
          key = "null";
        } else {
          auto k = YamlScalar(member.first);
          if (!k) return Fail(k.error());
          key = k->is_string() ? k->as_string() : k->ToJson();
        }
        auto v = YamlToValue(member.second, budget, depth + 1);
        if (!v) return v;
        members.insert_or_assign(Value::String(std::move(key)), std::move(*v));
      }
      return Value::FromObject(std::move(members));
    }
  }
  return Value::Null();
}

// Lines that open or close a document explicitly ("---", "...").
size_t DocumentMarkers(std::string_view s) {
  size_t markers = 0;
  for (size_t line = 0; line < s.size();) {
    const std::string_view rest = s.substr(line);
    if (rest.starts_with("---") || rest.starts_with("...")) {
      if (rest.size() == 3 || rest[3] == '\n' || rest[3] == '\r' || rest[3] == ' ' || rest[3] == '\t') ++markers;
    }
    const size_t newline = s.find('\n', line);
    if (newline == std::string_view::npos) break;
    line = newline + 1;
  }
  return markers;
}

// The first document, as go-yaml reads it. go-yaml scans past the first
// document, so a syntax error right after it fails the whole input; and where
// yaml-cpp starts a new document after a bad dedent ("  a:\nb: 1"), libyaml
// reports an error: a document without a marker to open it is refused.
Result<Value> YamlUnmarshal(std::string_view s) {
  try {
    const std::vector<YAML::Node> documents = YAML::LoadAll(std::string(s));
    if (documents.size() > 1 + DocumentMarkers(s)) {
      return Fail(ErrorCode::kFailedPrecondition,
                  "error converting YAML to JSON: yaml: did not find expected <document start>");
    }
    if (documents.empty()) return Value::Null();
    YamlBudget budget;
    return YamlToValue(documents.front(), budget, 0);
  } catch (const std::exception& e) {
    return Fail(ErrorCode::kFailedPrecondition, std::string("error converting YAML to JSON: ") + e.what());
  }
}

// Whether a string scalar can be written plain without changing its meaning
// or its parse (approximating libyaml's emitter analysis).
bool YamlPlainAllowed(std::string_view s) {
  if (s.empty() || IsYamlNull(s) || YamlBool(s) || YamlNumber(s)) return false;
  if (s.front() == ' ' || s.back() == ' ' || s.back() == ':') return false;
  static constexpr std::string_view kIndicators = ",[]{}#&*!|>'\"%@`";
  if (kIndicators.find(s.front()) != std::string_view::npos) return false;
  if ((s.front() == '-' || s.front() == '?' || s.front() == ':') && (s.size() == 1 || s[1] == ' ')) return false;
  if (s.find(": ") != std::string_view::npos || s.find(" #") != std::string_view::npos) return false;
  if (s == "<<" || s.starts_with("---") || s.starts_with("...")) return false;
  for (char c : s) {
    const auto b = static_cast<uint8_t>(c);
    if (b < 0x20 || b == 0x7F) return false;
  }
  return true;
}

void AppendYamlString(std::string& out, std::string_view s, int indent) {
  if (s.find('\n') != std::string_view::npos && text::IsAscii(s)) {
    out += s.ends_with('\n') ? "|" : "|-";
    const std::string pad(static_cast<size_t>(indent + 2), ' ');
    std::string_view rest = s.ends_with('\n') ? s.substr(0, s.size() - 1) : s;
    while (true) {
      const size_t nl = rest.find('\n');
      const std::string_view line = rest.substr(0, nl);
      out += "\n";
      if (!line.empty()) out += pad + std::string(line);
      if (nl == std::string_view::npos) break;
      rest = rest.substr(nl + 1);
    }
    return;
  }
  if (YamlPlainAllowed(s)) {
    out += s;
    return;
  }
  bool printable = true;
  for (char c : s) {
    const auto b = static_cast<uint8_t>(c);
    if (b < 0x20 || b == 0x7F) printable = false;
  }
  // Strings that would read back as another type are double-quoted by
  // go-yaml; others that merely cannot be plain are single-quoted.
  if (printable && !s.empty() && !IsYamlNull(s) && !YamlBool(s) && !YamlNumber(s)) {
    out.push_back('\'');
    for (char c : s) {
      if (c == '\'') out.push_back('\'');
      out.push_back(c);
    }
    out.push_back('\'');
    return;
  }
  AppendJsonString(out, s);
}

void AppendYaml(std::string& out, const Value& v, int indent);

void AppendYamlSequence(std::string& out, const auto& items, int indent) {
  const std::string pad(static_cast<size_t>(indent), ' ');
  bool first = true;
  for (const Value& item : items) {
    if (!first) out += "\n" + pad;
    first = false;
    out += "- ";
    AppendYaml(out, item, indent + 2);
  }
}

bool IsNonEmptyCollection(const Value& v) {
  return (v.is_object() && !v.as_object().empty()) || (v.is_array() && !v.as_array().empty()) ||
         (v.is_set() && !v.as_set().empty());
}

// Writes `v` starting at the current column; continuation lines use `indent`.
void AppendYaml(std::string& out, const Value& v, int indent) {
  const std::string pad(static_cast<size_t>(indent), ' ');
  switch (v.kind()) {
    case Kind::kNull: out += "null"; return;
    case Kind::kBool: out += v.as_bool() ? "true" : "false"; return;
    case Kind::kNumber: out += v.as_number().ToString(); return;
    case Kind::kString: AppendYamlString(out, v.as_string(), indent); return;
    case Kind::kArray:
      if (v.as_array().empty())
        out += "[]";
      else
        AppendYamlSequence(out, v.as_array(), indent);
      return;
    case Kind::kSet:
      if (v.as_set().empty())
        out += "[]";
      else
        AppendYamlSequence(out, v.as_set(), indent);
      return;
    case Kind::kObject: {
      if (v.as_object().empty()) {
        out += "{}";
        return;
      }
      bool first = true;
      for (const auto& [key, value] : JsonMembers(v.as_object())) {
        if (!first) out += "\n" + pad;
        first = false;
        AppendYamlString(out, key, indent);
        out += ":";
        if (value->is_object() && IsNonEmptyCollection(*value)) {
          out += "\n" + pad + "  ";
          AppendYaml(out, *value, indent + 2);
        } else if (IsNonEmptyCollection(*value)) {
          // go-yaml does not indent a sequence under a mapping key.
          out += "\n" + pad;
          AppendYaml(out, *value, indent);
        } else {
          out += " ";
          AppendYaml(out, *value, indent);
        }
      }
      return;
    }
  }
}

std::string YamlMarshal(const Value& v) {
  std::string out;
  AppendYaml(out, v, 0);
  return out + "\n";
}

// ---------------------------------------------------------------------------
// Digests through OpenSSL's EVP interface.

Result<std::string> Digest(const EVP_MD* md, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  if (EVP_Digest(data.data(), data.size(), digest.data(), &size, md, nullptr) != 1) {
    return Fail(ErrorCode::kCrypto, "digest failed");
  }
  return HexEncode(std::string_view(reinterpret_cast<const char*>(digest.data()), size));
}

Result<std::string> Hmac(const EVP_MD* md, std::string_view data, std::string_view key) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int size = 0;
  if (key.size() > static_cast<size_t>(INT_MAX)) return Fail(ErrorCode::kInvalidArgument, "key too long");
  if (HMAC(md, key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
           data.size(), mac.data(), &size) == nullptr) {
    return Fail(ErrorCode::kCrypto, "hmac failed");
  }
  return HexEncode(std::string_view(reinterpret_cast<const char*>(mac.data()), size));
}

// ---------------------------------------------------------------------------
// Registration helpers.

using StringFunction = Result<std::string> (*)(std::string_view);

void Add(BuiltinRegistry& registry, std::string name, int arity, BuiltinFunction function) {
  registry.Add(Builtin{std::move(name), arity, std::move(function), false});
}

// A builtin from string to string whose failures become "NAME: message".
template <typename F>
void AddStringToString(BuiltinRegistry& registry, std::string name, F body) {
  Add(registry, name, 1, [name, body](std::span<const Value> ops) -> Result<Value> {
    auto s = StringOperand(name, ops, 0);
    if (!s) return Fail(s.error());
    Result<std::string> out = body(*s);
    if (!out) return Fail(BuiltinError(name, out.error().message));
    return Value::String(std::move(*out));
  });
}

// is_valid-style builtins: false for a non-string operand.
template <typename F>
void AddValidity(BuiltinRegistry& registry, std::string name, F is_valid) {
  Add(registry, std::move(name), 1, [is_valid](std::span<const Value> ops) -> Result<Value> {
    if (!ops[0].is_string()) return Value::Bool(false);
    return Value::Bool(is_valid(ops[0].as_string()));
  });
}

}  // namespace

void RegisterEncodingBuiltins(BuiltinRegistry& registry) {
  using S = std::string_view;
  AddStringToString(registry, "base64.encode",
                    [](S s) -> Result<std::string> { return Base64Encode(s, kStdAlphabet, true); });
  AddStringToString(registry, "base64.decode", [](S s) { return Base64Decode(s, kStdAlphabet); });
  AddValidity(registry, "base64.is_valid", [](S s) { return Base64Decode(s, kStdAlphabet).has_value(); });
  AddStringToString(registry, "base64url.encode",
                    [](S s) -> Result<std::string> { return Base64Encode(s, kUrlAlphabet, true); });
  AddStringToString(registry, "base64url.encode_no_pad",
                    [](S s) -> Result<std::string> { return Base64Encode(s, kUrlAlphabet, false); });
  Add(registry, "base64url.decode", 1, Base64UrlDecode);
  AddStringToString(registry, "hex.encode", [](S s) -> Result<std::string> { return HexEncode(s); });
  AddStringToString(registry, "hex.decode", HexDecode);

  Add(registry, "json.marshal", 1,
      [](std::span<const Value> ops) -> Result<Value> { return Value::String(GoJson(ops[0])); });
  Add(registry, "json.marshal_with_options", 2, JsonMarshalWithOptions);
  Add(registry, "json.unmarshal", 1, [](std::span<const Value> ops) -> Result<Value> {
    auto s = StringOperand("json.unmarshal", ops, 0);
    if (!s) return Fail(s.error());
    // Go's encoding/json keeps the last of repeated keys.
    auto v = Value::FromJsonLastKeyWins(*s);
    if (!v) return Fail(BuiltinError("json.unmarshal", v.error().message));
    return v;
  });
  AddValidity(registry, "json.is_valid", [](S s) { return nlohmann::json::accept(s); });

  AddStringToString(registry, "urlquery.encode", [](S s) -> Result<std::string> { return QueryEscape(s); });
  AddStringToString(registry, "urlquery.decode", QueryUnescape);
  Add(registry, "urlquery.encode_object", 1, UrlQueryEncodeObject);
  Add(registry, "urlquery.decode_object", 1, UrlQueryDecodeObject);

  Add(registry, "yaml.marshal", 1,
      [](std::span<const Value> ops) -> Result<Value> { return Value::String(YamlMarshal(ops[0])); });
  Add(registry, "yaml.unmarshal", 1, [](std::span<const Value> ops) -> Result<Value> {
    auto s = StringOperand("yaml.unmarshal", ops, 0);
    if (!s) return Fail(s.error());
    auto v = YamlUnmarshal(*s);
    if (!v) return Fail(BuiltinError("yaml.unmarshal", v.error().message));
    return v;
  });
  AddValidity(registry, "yaml.is_valid", [](S s) { return YamlUnmarshal(s).has_value(); });

  AddStringToString(registry, "crypto.md5", [](S s) { return Digest(EVP_md5(), s); });
  AddStringToString(registry, "crypto.sha1", [](S s) { return Digest(EVP_sha1(), s); });
  AddStringToString(registry, "crypto.sha256", [](S s) { return Digest(EVP_sha256(), s); });
  struct HmacBuiltin {
    const char* name;
    const EVP_MD* (*md)();
  };
  for (const HmacBuiltin& h :
       {HmacBuiltin{"crypto.hmac.md5", EVP_md5}, HmacBuiltin{"crypto.hmac.sha1", EVP_sha1},
        HmacBuiltin{"crypto.hmac.sha256", EVP_sha256}, HmacBuiltin{"crypto.hmac.sha512", EVP_sha512}}) {
    const std::string name = h.name;
    const auto md = h.md;
    Add(registry, name, 2, [name, md](std::span<const Value> ops) -> Result<Value> {
      auto data = StringOperand(name, ops, 0);
      if (!data) return Fail(data.error());
      auto key = StringOperand(name, ops, 1);
      if (!key) return Fail(key.error());
      auto mac = Hmac(md(), *data, *key);
      if (!mac) return Fail(BuiltinError(name, mac.error().message));
      return Value::String(std::move(*mac));
    });
  }
  Add(registry, "crypto.hmac.equal", 2, [](std::span<const Value> ops) -> Result<Value> {
    auto a = StringOperand("crypto.hmac.equal", ops, 0);
    if (!a) return Fail(a.error());
    auto b = StringOperand("crypto.hmac.equal", ops, 1);
    if (!b) return Fail(b.error());
    if (a->size() != b->size()) return Value::Bool(false);
    return Value::Bool(CRYPTO_memcmp(a->data(), b->data(), a->size()) == 0);
  });
}

}  // namespace contrast::policy::rego
