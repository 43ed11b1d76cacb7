#include "common/time.h"

#include <cctype>

namespace contrast {
namespace {

// Reads exactly `digits` decimal digits at `pos`.
bool ReadNumber(std::string_view s, size_t& pos, size_t digits, int& out) {
  if (pos + digits > s.size()) return false;
  int value = 0;
  for (size_t i = 0; i < digits; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  pos += digits;
  out = value;
  return true;
}

bool Expect(std::string_view s, size_t& pos, char a, char b = '\0') {
  if (pos >= s.size()) return false;
  const char c = s[pos];
  if (c != a && (b == '\0' || c != b)) return false;
  ++pos;
  return true;
}

}  // namespace

TimePoint Now() { return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()); }

Result<TimePoint> ParseRfc3339(std::string_view s) {
  using namespace std::chrono;
  auto bad = [&] {
    return Fail(ErrorCode::kParse,
                "invalid RFC 3339 time \"" + std::string(s.substr(0, 64)) + "\" (expected e.g. 2025-06-01T00:00:00Z)");
  };
  size_t pos = 0;
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (!ReadNumber(s, pos, 4, y) || !Expect(s, pos, '-') || !ReadNumber(s, pos, 2, mo) || !Expect(s, pos, '-') ||
      !ReadNumber(s, pos, 2, d) || !Expect(s, pos, 'T', 't') || !ReadNumber(s, pos, 2, h) || !Expect(s, pos, ':') ||
      !ReadNumber(s, pos, 2, mi) || !Expect(s, pos, ':') || !ReadNumber(s, pos, 2, sec)) {
    return bad();
  }
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    const size_t start = pos;
    while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) ++pos;
    if (pos == start) return bad();
  }
  int offset_minutes = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    const int sign = s[pos] == '+' ? 1 : -1;
    ++pos;
    int oh = 0, om = 0;
    if (!ReadNumber(s, pos, 2, oh) || !Expect(s, pos, ':') || !ReadNumber(s, pos, 2, om) || oh > 23 || om > 59) {
      return bad();
    }
    offset_minutes = sign * (oh * 60 + om);
  } else {
    return bad();
  }
  if (pos != s.size()) return bad();
  const year_month_day date{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!date.ok() || h > 23 || mi > 59 || sec > 60) return bad();
  // A leap second is folded into the next second, as Go and OpenSSL do.
  return sys_days{date} + hours{h} + minutes{mi} + seconds{sec} - minutes{offset_minutes};
}

std::string FormatRfc3339(TimePoint t) {
  using namespace std::chrono;
  const auto days = floor<std::chrono::days>(t);
  const year_month_day date{days};
  const hh_mm_ss<seconds> tod{t - days};
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02uT%02ld:%02ld:%02ldZ", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                static_cast<long>(tod.hours().count()), static_cast<long>(tod.minutes().count()),
                static_cast<long>(tod.seconds().count()));
  return buffer;
}

}  // namespace contrast
