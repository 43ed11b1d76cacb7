// Private helpers shared by the string, regex and encoding builtins: Go's
// view of UTF-8 (OPA is written in Go, so its rune semantics are Go's) and
// operand checks with OPA's error messages.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/text.h"
#include "policy/rego/builtins.h"
#include "policy/rego/value.h"

namespace contrast::policy::rego::text {

inline constexpr char32_t kReplacementRune = 0xFFFD;

struct DecodedRune {
  char32_t rune;
  size_t width;  // bytes consumed; 1 for an invalid byte
};

// Decodes the rune at `pos` as Go does: an invalid or truncated sequence,
// an overlong form or a surrogate yields U+FFFD with width 1.
inline DecodedRune DecodeRune(std::string_view s, size_t pos) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
  const uint8_t b0 = byte(pos);
  if (b0 < 0x80) return {b0, 1};
  const size_t left = s.size() - pos;
  const auto continuation = [&](size_t i) { return pos + i < s.size() && (byte(pos + i) & 0xC0) == 0x80; };
  if (b0 >= 0xC2 && b0 <= 0xDF && left >= 2 && continuation(1)) {
    return {static_cast<char32_t>(((b0 & 0x1F) << 6) | (byte(pos + 1) & 0x3F)), 2};
  }
  if (b0 >= 0xE0 && b0 <= 0xEF && left >= 3 && continuation(1) && continuation(2)) {
    const char32_t r = ((b0 & 0x0F) << 12) | ((byte(pos + 1) & 0x3F) << 6) | (byte(pos + 2) & 0x3F);
    if (r >= 0x800 && (r < 0xD800 || r > 0xDFFF)) return {r, 3};
    return {kReplacementRune, 1};
  }
  if (b0 >= 0xF0 && b0 <= 0xF4 && left >= 4 && continuation(1) && continuation(2) && continuation(3)) {
    const char32_t r =
        ((b0 & 0x07) << 18) | ((byte(pos + 1) & 0x3F) << 12) | ((byte(pos + 2) & 0x3F) << 6) | (byte(pos + 3) & 0x3F);
    if (r >= 0x10000 && r <= 0x10FFFF) return {r, 4};
  }
  return {kReplacementRune, 1};
}

// The rune that ends at `end` (Go's utf8.DecodeLastRuneInString).
inline DecodedRune DecodeLastRune(std::string_view s, size_t end) {
  size_t start = end - 1;
  if (static_cast<uint8_t>(s[start]) < 0x80) return {static_cast<uint8_t>(s[start]), 1};
  const size_t limit = end >= 4 ? end - 4 : 0;
  while (start > limit && (static_cast<uint8_t>(s[start]) & 0xC0) == 0x80) --start;
  const DecodedRune r = DecodeRune(s.substr(0, end), start);
  if (start + r.width != end) return {kReplacementRune, 1};
  return r;
}

// Appends the UTF-8 form of `rune`; invalid code points become U+FFFD.
inline void AppendRune(std::string& out, char32_t rune) { AppendUtf8(out, rune); }

inline bool IsAscii(std::string_view s) {
  for (char c : s) {
    if (static_cast<uint8_t>(c) >= 0x80) return false;
  }
  return true;
}

inline size_t RuneCount(std::string_view s) {
  size_t count = 0;
  for (size_t pos = 0; pos < s.size(); pos += DecodeRune(s, pos).width) ++count;
  return count;
}

inline std::vector<char32_t> ToRunes(std::string_view s) {
  std::vector<char32_t> runes;
  runes.reserve(s.size());
  for (size_t pos = 0; pos < s.size();) {
    const DecodedRune r = DecodeRune(s, pos);
    runes.push_back(r.rune);
    pos += r.width;
  }
  return runes;
}

inline std::string FromRunes(std::span<const char32_t> runes) {
  std::string out;
  out.reserve(runes.size());
  for (char32_t r : runes) AppendRune(out, r);
  return out;
}

// Knuth-Morris-Pratt failure table of `needle`.
template <typename T>
std::vector<size_t> KmpTable(std::span<const T> needle) {
  std::vector<size_t> failure(needle.size(), 0);
  for (size_t i = 1, k = 0; i < needle.size(); ++i) {
    while (k > 0 && needle[i] != needle[k]) k = failure[k - 1];
    if (needle[i] == needle[k]) ++k;
    failure[i] = k;
  }
  return failure;
}

// Positions of every (possibly overlapping) occurrence of a non-empty
// `needle`, in linear time; stops after `limit` hits.
template <typename T>
std::vector<size_t> FindAllOverlapping(std::span<const T> haystack, std::span<const T> needle,
                                       size_t limit = SIZE_MAX) {
  std::vector<size_t> hits;
  if (needle.empty()) return hits;
  const std::vector<size_t> failure = KmpTable(needle);
  for (size_t i = 0, k = 0; i < haystack.size() && hits.size() < limit; ++i) {
    while (k > 0 && haystack[i] != needle[k]) k = failure[k - 1];
    if (haystack[i] == needle[k]) ++k;
    if (k == needle.size()) {
      hits.push_back(i + 1 - needle.size());
      k = failure[k - 1];
    }
  }
  return hits;
}

// Substring search that stays linear for long needles, so hostile inputs
// cannot make a call quadratic; short needles use the library search.
class Finder {
 public:
  explicit Finder(std::string_view needle) : needle_(needle) {
    if (needle_.size() > kShortNeedle) failure_ = KmpTable(std::span<const char>(needle_));
  }

  // Byte offset of the first occurrence at or after `from`, or npos.
  size_t Find(std::string_view haystack, size_t from = 0) const {
    if (failure_.empty()) return haystack.find(needle_, from);
    for (size_t i = from, k = 0; i < haystack.size(); ++i) {
      while (k > 0 && haystack[i] != needle_[k]) k = failure_[k - 1];
      if (haystack[i] == needle_[k]) ++k;
      if (k == needle_.size()) return i + 1 - k;
    }
    return std::string_view::npos;
  }

 private:
  static constexpr size_t kShortNeedle = 32;
  std::string needle_;
  std::vector<size_t> failure_;
};

// "NAME: operand N TEXT" as a type error (OPA's ErrOperand).
inline Error OperandError(std::string_view builtin, int operand, std::string_view message) {
  return Error{ErrorCode::kInvalidArgument,
               std::string(builtin) + ": operand " + std::to_string(operand) + " " + std::string(message)};
}

// A builtin that failed on well-typed operands: "NAME: TEXT".
inline Error BuiltinError(std::string_view builtin, std::string_view message) {
  return Error{ErrorCode::kFailedPrecondition, std::string(builtin) + ": " + std::string(message)};
}

// Operand checks; `index` is 0-based, messages count operands from 1.
inline Result<std::string_view> StringOperand(std::string_view builtin, std::span<const Value> operands, size_t index) {
  const Value& v = operands[index];
  if (!v.is_string()) return Fail(OperandTypeError(builtin, static_cast<int>(index) + 1, "string", v));
  return std::string_view(v.as_string());
}

// An integer that fits int64, as OPA's IntOperand.
inline Result<int64_t> IntOperand(std::string_view builtin, std::span<const Value> operands, size_t index) {
  const Value& v = operands[index];
  const int operand = static_cast<int>(index) + 1;
  if (!v.is_number()) return Fail(OperandTypeError(builtin, operand, "number", v));
  const std::optional<int64_t> i = v.as_number().ToInt64();
  if (!i) return Fail(OperandError(builtin, operand, "must be integer number but got floating-point number"));
  return *i;
}

// Elements of an array or set of strings (OPA's StringSliceOperand).
inline Result<std::vector<std::string_view>> StringSliceOperand(std::string_view builtin, const Value& value,
                                                                int operand) {
  std::vector<std::string_view> out;
  const auto add = [&](const Value& element) -> Status {
    if (!element.is_string()) {
      const std::string composite(KindName(value.kind()));
      return Fail(OperandError(builtin, operand,
                               "must be " + composite + " of strings but got " + composite + " containing " +
                                   std::string(KindName(element.kind()))));
    }
    out.push_back(element.as_string());
    return {};
  };
  if (value.is_array()) {
    for (const Value& e : value.as_array()) {
      if (auto st = add(e); !st) return Fail(st.error());
    }
  } else if (value.is_set()) {
    for (const Value& e : value.as_set()) {
      if (auto st = add(e); !st) return Fail(st.error());
    }
  } else {
    return Fail(OperandTypeError(builtin, operand, "one of {array, set}", value));
  }
  return out;
}

}  // namespace contrast::policy::rego::text
