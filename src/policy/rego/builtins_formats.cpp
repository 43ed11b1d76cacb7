// Builtins over standard textual formats: durations (time.parse_duration_ns,
// and time.now_ns), semantic versions (semver.*) and URIs (uri.*).
//
// Durations follow Go's time.ParseDuration, which OPA calls, with three more
// units that rego-cpp accepts: d (24h), w (7d) and y (365d). Versions follow
// the semver package OPA vendors (dotted triple, then "-pre" and "+meta").
// URIs follow Go's net/url.Parse; uri.* is a rego-cpp extension, not OPA.
#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/rego/builtins.h"
#include "policy/rego/builtins_text.h"
#include "policy/rego/builtins_values_support.h"

namespace contrast::policy::rego {
namespace {

using support::AddBuiltin;
using support::BuiltinError;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// ---------------------------------------------------------------------------
// Durations.

// Go's time.quote: bytes outside printable ASCII as \xNN.
std::string GoTimeQuote(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (char ch : s) {
    const auto b = static_cast<uint8_t>(ch);
    if (b >= 0x80 || b < 0x20) {
      out += "\\x";
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 0xF]);
      continue;
    }
    if (ch == '"' || ch == '\\') out.push_back('\\');
    out.push_back(ch);
  }
  return out + "\"";
}

std::optional<uint64_t> DurationUnit(std::string_view unit) {
  constexpr uint64_t kSecond = 1000000000;
  constexpr uint64_t kDay = 24 * 3600 * kSecond;
  if (unit == "ns") return 1;
  if (unit == "us" || unit == "\u00b5s" || unit == "\u03bcs") return 1000;
  if (unit == "ms") return 1000000;
  if (unit == "s") return kSecond;
  if (unit == "m") return 60 * kSecond;
  if (unit == "h") return 3600 * kSecond;
  if (unit == "d") return kDay;
  if (unit == "w") return 7 * kDay;
  if (unit == "y") return 365 * kDay;
  return std::nullopt;
}

constexpr uint64_t kTwo63 = uint64_t{1} << 63;

Result<int64_t> ParseDuration(std::string_view orig) {
  const auto invalid = [&] {
    return Fail(ErrorCode::kFailedPrecondition, "time: invalid duration " + GoTimeQuote(orig));
  };
  std::string_view s = orig;
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return 0;
  if (s.empty()) return invalid();
  uint64_t total = 0;
  while (!s.empty()) {
    if (s[0] != '.' && !IsDigit(s[0])) return invalid();
    // Integer part; more than 2^63 is an overflow.
    uint64_t whole = 0;
    size_t i = 0;
    for (; i < s.size() && IsDigit(s[i]); ++i) {
      if (whole > kTwo63 / 10) return invalid();
      whole = whole * 10 + static_cast<uint64_t>(s[i] - '0');
      if (whole > kTwo63) return invalid();
    }
    const bool had_whole = i > 0;
    s.remove_prefix(i);
    // Fraction: digits beyond what fits are dropped, as Go does.
    uint64_t fraction = 0;
    double scale = 1;
    bool had_fraction = false;
    if (!s.empty() && s[0] == '.') {
      s.remove_prefix(1);
      bool overflow = false;
      size_t j = 0;
      for (; j < s.size() && IsDigit(s[j]); ++j) {
        if (overflow) continue;
        if (fraction > (kTwo63 - 1) / 10) {
          overflow = true;
          continue;
        }
        const uint64_t next = fraction * 10 + static_cast<uint64_t>(s[j] - '0');
        if (next > kTwo63) {
          overflow = true;
          continue;
        }
        fraction = next;
        scale *= 10;
      }
      had_fraction = j > 0;
      s.remove_prefix(j);
    }
    if (!had_whole && !had_fraction) return invalid();
    size_t unit_end = 0;
    while (unit_end < s.size() && s[unit_end] != '.' && !IsDigit(s[unit_end])) ++unit_end;
    if (unit_end == 0)
      return Fail(ErrorCode::kFailedPrecondition, "time: missing unit in duration " + GoTimeQuote(orig));
    const std::string_view unit_text = s.substr(0, unit_end);
    s.remove_prefix(unit_end);
    const std::optional<uint64_t> unit = DurationUnit(unit_text);
    if (!unit) {
      return Fail(ErrorCode::kFailedPrecondition,
                  "time: unknown unit " + GoTimeQuote(unit_text) + " in duration " + GoTimeQuote(orig));
    }
    if (whole > kTwo63 / *unit) return invalid();
    uint64_t value = whole * *unit;
    if (fraction > 0) {
      // Go computes the fractional part in float64 (exact to the nanosecond
      // for fractions of the largest standard unit).
      value += static_cast<uint64_t>(static_cast<double>(fraction) * (static_cast<double>(*unit) / scale));
      if (value > kTwo63) return invalid();
    }
    total += value;
    if (total > kTwo63) return invalid();
  }
  if (negative) return static_cast<int64_t>(~total + 1);  // two's complement: -2^63 included
  if (total > kTwo63 - 1) return invalid();
  return static_cast<int64_t>(total);
}

// ---------------------------------------------------------------------------
// Semantic versions.

struct SemVer {
  std::array<int64_t, 3> core{};
  std::string prerelease;
};

// Identifiers: dot-separated non-empty runs of [0-9A-Za-z-].
bool ValidIdentifier(std::string_view id) {
  if (id.empty()) return true;
  size_t run = 0;
  for (char c : id) {
    if (c == '.') {
      if (run == 0) return false;
      run = 0;
      continue;
    }
    const bool ok = IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
    if (!ok) return false;
    ++run;
  }
  return run > 0;
}

// Go's strconv.ParseInt(s, 10, 64): optional sign, decimal digits, no overflow.
std::optional<int64_t> ParseGoInt(std::string_view s) {
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return std::nullopt;
  uint64_t value = 0;
  for (char c : s) {
    if (!IsDigit(c)) return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(c - '0');
    if (value > kTwo63) return std::nullopt;
  }
  if (!negative && value == kTwo63) return std::nullopt;
  return negative ? static_cast<int64_t>(~value + 1) : static_cast<int64_t>(value);
}

std::optional<SemVer> ParseSemVer(std::string_view s) {
  // Build metadata is cut at the first '+', the pre-release at the first '-'.
  std::string_view metadata, prerelease;
  if (size_t plus = s.find('+'); plus != std::string_view::npos) {
    metadata = s.substr(plus + 1);
    s = s.substr(0, plus);
  }
  if (size_t minus = s.find('-'); minus != std::string_view::npos) {
    prerelease = s.substr(minus + 1);
    s = s.substr(0, minus);
  }
  std::array<std::string_view, 3> parts;
  for (size_t i = 0; i < 2; ++i) {
    const size_t dot = s.find('.');
    if (dot == std::string_view::npos) return std::nullopt;
    parts[i] = s.substr(0, dot);
    s.remove_prefix(dot + 1);
  }
  parts[2] = s;
  if (!ValidIdentifier(prerelease) || !ValidIdentifier(metadata)) return std::nullopt;
  SemVer v;
  for (size_t i = 0; i < 3; ++i) {
    const std::optional<int64_t> n = ParseGoInt(parts[i]);
    if (!n) return std::nullopt;
    v.core[i] = *n;
  }
  v.prerelease = std::string(prerelease);
  return v;
}

// Pre-release precedence: numeric identifiers sort before alphanumeric ones,
// numbers by value, then (also for equal numbers such as "01" and "1") by
// text; a longer list wins when all shared identifiers are equal.
int ComparePrerelease(std::string_view a, std::string_view b) {
  const auto split = [](std::string_view s) {
    std::vector<std::string_view> out;
    for (size_t start = 0;;) {
      const size_t dot = s.find('.', start);
      out.push_back(s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
      if (dot == std::string_view::npos) break;
      start = dot + 1;
    }
    return out;
  };
  const std::vector<std::string_view> xs = split(a), ys = split(b);
  for (size_t i = 0;; ++i) {
    if (i == xs.size()) return i == ys.size() ? 0 : -1;
    if (i == ys.size()) return 1;
    const std::optional<int64_t> x = ParseGoInt(xs[i]), y = ParseGoInt(ys[i]);
    if (x && !y) return -1;
    if (!x && y) return 1;
    if (x && y && *x != *y) return *x < *y ? -1 : 1;
    if (const int c = xs[i].compare(ys[i]); c != 0) return c < 0 ? -1 : 1;
  }
}

int CompareSemVer(const SemVer& a, const SemVer& b) {
  for (size_t i = 0; i < 3; ++i) {
    if (a.core[i] != b.core[i]) return a.core[i] < b.core[i] ? -1 : 1;
  }
  if (a.prerelease.empty() != b.prerelease.empty()) return a.prerelease.empty() ? 1 : -1;
  if (a.prerelease.empty()) return 0;
  return ComparePrerelease(a.prerelease, b.prerelease);
}

Result<Value> SemVerCompare(std::span<const Value> ops) {
  constexpr std::string_view kName = "semver.compare";
  std::array<SemVer, 2> versions;
  for (size_t i = 0; i < 2; ++i) {
    auto s = text::StringOperand(kName, ops, i);
    if (!s) return Fail(s.error());
    std::optional<SemVer> v = ParseSemVer(*s);
    if (!v) {
      return BuiltinError(kName, "operand " + std::to_string(i + 1) + ": string " +
                                     Value::String(std::string(*s)).ToJson() + " is not a valid SemVer");
    }
    versions[i] = std::move(*v);
  }
  return Value::Int(CompareSemVer(versions[0], versions[1]));
}

// ---------------------------------------------------------------------------
// URIs, split as Go's net/url.Parse does. Components that are empty are left
// out of uri.parse's object.

struct ParsedUri {
  std::string scheme, opaque, username, password, hostname, port, path, raw_path, query, fragment;
  bool has_password = false;
};

int HexValue(char c) {
  if (IsDigit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding; a malformed escape makes the URI invalid.
std::optional<std::string> Unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    const int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

bool ValidPort(std::string_view port) {
  for (char c : port) {
    if (!IsDigit(c)) return false;
  }
  return true;
}

bool ParseHost(std::string_view host, ParsedUri& uri) {
  std::string_view port;
  if (!host.empty() && host[0] == '[') {
    const size_t close = host.rfind(']');
    if (close == std::string_view::npos) return false;
    const std::string_view after = host.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return false;
      port = after.substr(1);
    }
    host = host.substr(1, close - 1);
  } else if (const size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    port = host.substr(colon + 1);
    host = host.substr(0, colon);
  }
  if (!ValidPort(port)) return false;
  std::optional<std::string> name = Unescape(host);
  if (!name) return false;
  uri.hostname = std::move(*name);
  uri.port = std::string(port);
  return true;
}

std::optional<ParsedUri> ParseUri(std::string_view raw) {
  for (char c : raw) {
    if (static_cast<uint8_t>(c) < 0x20 || c == 0x7f) return std::nullopt;  // Go refuses control bytes
  }
  ParsedUri uri;
  if (const size_t hash = raw.find('#'); hash != std::string_view::npos) {
    std::optional<std::string> fragment = Unescape(raw.substr(hash + 1));
    if (!fragment) return std::nullopt;
    uri.fragment = std::move(*fragment);
    raw = raw.substr(0, hash);
  }
  // Scheme: a letter, then letters, digits, '+', '-', '.', up to ':'.
  for (size_t i = 0; i < raw.size(); ++i) {
    const char c = raw[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (letter) continue;
    if (IsDigit(c) || c == '+' || c == '-' || c == '.') {
      if (i == 0) break;
      continue;
    }
    if (c == ':') {
      if (i == 0) return std::nullopt;  // missing protocol scheme
      for (char s : raw.substr(0, i)) uri.scheme.push_back(static_cast<char>(s >= 'A' && s <= 'Z' ? s + 32 : s));
      raw.remove_prefix(i + 1);
    }
    break;
  }
  if (const size_t q = raw.find('?'); q != std::string_view::npos) {
    uri.query = std::string(raw.substr(q + 1));
    raw = raw.substr(0, q);
  }
  if (raw.empty() || raw[0] != '/') {
    if (!uri.scheme.empty()) {
      uri.opaque = std::string(raw);
      return uri;
    }
    // A relative path whose first segment has a colon would read as a scheme.
    const size_t colon = raw.find(':');
    if (colon != std::string_view::npos && colon < raw.find('/')) return std::nullopt;
  }
  if (raw.substr(0, 2) == "//" && (!uri.scheme.empty() || raw.substr(0, 3) != "///")) {
    raw.remove_prefix(2);
    const size_t slash = raw.find('/');
    std::string_view authority = raw.substr(0, slash);
    raw = slash == std::string_view::npos ? std::string_view() : raw.substr(slash);
    if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
      const std::string_view userinfo = authority.substr(0, at);
      const size_t colon = userinfo.find(':');
      std::optional<std::string> user = Unescape(userinfo.substr(0, colon));
      if (!user) return std::nullopt;
      uri.username = std::move(*user);
      if (colon != std::string_view::npos) {
        std::optional<std::string> password = Unescape(userinfo.substr(colon + 1));
        if (!password) return std::nullopt;
        uri.password = std::move(*password);
        uri.has_password = true;
      }
      authority.remove_prefix(at + 1);
    }
    if (!ParseHost(authority, uri)) return std::nullopt;
  }
  std::optional<std::string> path = Unescape(raw);
  if (!path) return std::nullopt;
  uri.path = std::move(*path);
  uri.raw_path = std::string(raw);
  return uri;
}

Value UriObject(const ParsedUri& uri) {
  Value::Object out;
  const auto put = [&](std::string_view key, const std::string& value) {
    if (!value.empty()) out.emplace(Value::String(std::string(key)), Value::String(value));
  };
  put("scheme", uri.scheme);
  put("username", uri.username);
  if (uri.has_password) out.emplace(Value::String("password"), Value::String(uri.password));
  put("hostname", uri.hostname);
  put("port", uri.port);
  put("path", uri.path);
  put("raw_path", uri.raw_path);
  put("query", uri.query);
  put("fragment", uri.fragment);
  return Value::FromObject(std::move(out));
}

}  // namespace

void RegisterFormatBuiltins(BuiltinRegistry& registry) {
  AddBuiltin(registry, "time.parse_duration_ns", 1, [](std::span<const Value> ops) -> Result<Value> {
    constexpr std::string_view kName = "time.parse_duration_ns";
    auto s = text::StringOperand(kName, ops, 0);
    if (!s) return Fail(s.error());
    auto ns = ParseDuration(*s);
    if (!ns) return BuiltinError(kName, ns.error().message);
    return Value::Int(*ns);
  });
  // OPA fixes the clock once per query; each call here reads it, which only
  // matters to a policy comparing two reads within one evaluation.
  AddBuiltin(registry, "time.now_ns", 0, [](std::span<const Value>) -> Result<Value> {
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    return Value::Int(std::chrono::duration_cast<std::chrono::nanoseconds>(now).count());
  });
  AddBuiltin(registry, "semver.is_valid", 1, [](std::span<const Value> ops) -> Result<Value> {
    return Value::Bool(ops[0].is_string() && ParseSemVer(ops[0].as_string()).has_value());
  });
  AddBuiltin(registry, "semver.compare", 2, SemVerCompare);
  AddBuiltin(registry, "uri.is_valid", 1, [](std::span<const Value> ops) -> Result<Value> {
    return Value::Bool(ops[0].is_string() && ParseUri(ops[0].as_string()).has_value());
  });
  AddBuiltin(registry, "uri.parse", 1, [](std::span<const Value> ops) -> Result<Value> {
    constexpr std::string_view kName = "uri.parse";
    auto s = text::StringOperand(kName, ops, 0);
    if (!s) return Fail(s.error());
    std::optional<ParsedUri> uri = ParseUri(*s);
    if (!uri) return BuiltinError(kName, "invalid URI " + Value::String(std::string(*s)).ToJson());
    return UriObject(*uri);
  });
}

}  // namespace contrast::policy::rego
