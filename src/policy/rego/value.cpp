#include "policy/rego/value.h"
#include "common/text.h"

#include <openssl/bn.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cassert>
#include <charconv>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <utility>
#include <variant>

namespace contrast::policy::rego {

// ---------------------------------------------------------------------------
// Number
// ---------------------------------------------------------------------------

static_assert(sizeof(BN_ULONG) == sizeof(uint64_t), "big integers assume 64-bit BIGNUM limbs");

namespace {

struct BnDeleter {
  void operator()(BIGNUM* bn) const { BN_free(bn); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnDeleter>;

struct BnCtxDeleter {
  void operator()(BN_CTX* ctx) const { BN_CTX_free(ctx); }
};
using BnCtxPtr = std::unique_ptr<BN_CTX, BnCtxDeleter>;

// 2^63 as a double: the first double outside int64's range.
constexpr double kTwoPow63 = 9223372036854775808.0;
// Integral doubles up to 2^53 are exact integers; we keep them as such.
constexpr double kTwoPow53 = 9007199254740992.0;

BnPtr NewBn() {
  BnPtr bn(BN_new());
  if (!bn) std::abort();  // allocation failure: nothing sensible to do
  return bn;
}

BnPtr BnFromInt64(int64_t value) {
  BnPtr bn = NewBn();
  const uint64_t magnitude = value < 0 ? (~static_cast<uint64_t>(value) + 1) : static_cast<uint64_t>(value);
  BN_set_word(bn.get(), magnitude);
  BN_set_negative(bn.get(), value < 0 ? 1 : 0);
  return bn;
}

std::optional<int64_t> BnToInt64(const BIGNUM* bn) {
  const int bits = BN_num_bits(bn);
  if (bits > 64) return std::nullopt;
  const uint64_t magnitude = BN_get_word(bn);
  if (BN_is_negative(bn)) {
    if (magnitude > (uint64_t{1} << 63)) return std::nullopt;
    return static_cast<int64_t>(~magnitude + 1);
  }
  if (magnitude >= (uint64_t{1} << 63)) return std::nullopt;
  return static_cast<int64_t>(magnitude);
}

std::string BnToString(const BIGNUM* bn) {
  char* text = BN_bn2dec(bn);
  if (text == nullptr) std::abort();
  std::string out(text);
  OPENSSL_free(text);
  return out;
}

double BnToDouble(const BIGNUM* bn) {
  // Through decimal text so that strtod rounds correctly.
  const std::string text = BnToString(bn);
  return std::strtod(text.c_str(), nullptr);
}

// An integral, finite double as an exact big integer.
BnPtr BnFromIntegralDouble(double value) {
  int exponent = 0;
  const double mantissa = std::frexp(std::fabs(value), &exponent);  // value = m * 2^e, m in [0.5, 1)
  const auto digits = static_cast<uint64_t>(std::ldexp(mantissa, 64));
  BnPtr bn = NewBn();
  BN_set_word(bn.get(), digits);
  const int shift = exponent - 64;
  if (shift > 0) {
    BN_lshift(bn.get(), bn.get(), shift);
  } else if (shift < 0) {
    BN_rshift(bn.get(), bn.get(), -shift);
  }
  BN_set_negative(bn.get(), value < 0 ? 1 : 0);
  return bn;
}

}  // namespace

struct Number::Rep {
  // kDecimal: big * 10^exponent, for literals a double cannot hold
  // (1e400, 1e-400, 0.1234567890123456789); it compares exactly and
  // computes as a double.
  enum class Type : uint8_t { kSmall, kBig, kFloat, kDecimal };
  Type type = Type::kSmall;
  int64_t small = 0;
  double real = 0;
  BnPtr big;
  int64_t exponent = 0;
};

namespace {

using NumRep = Number::Rep;
using NumType = Number::Rep::Type;

const NumRep& ZeroRep() {
  static const NumRep zero;
  return zero;
}

// Small integers are shared, so counters and indexes do not allocate.
constexpr int64_t kCachedMin = -16;
constexpr int64_t kCachedMax = 1024;

const std::shared_ptr<const NumRep>& CachedSmall(int64_t value) {
  static const auto* cache = [] {
    auto* table = new std::vector<std::shared_ptr<const NumRep>>();
    for (int64_t i = kCachedMin; i <= kCachedMax; ++i) {
      auto rep = std::make_shared<NumRep>();
      rep->small = i;
      table->push_back(std::move(rep));
    }
    return table;
  }();
  return (*cache)[static_cast<size_t>(value - kCachedMin)];
}

int CompareInt64Double(int64_t i, double d) {
  if (std::isnan(d)) return 1;
  if (d >= kTwoPow63) return -1;
  if (d < -kTwoPow63) return 1;
  const double floor = std::floor(d);
  const auto whole = static_cast<int64_t>(floor);
  if (i < whole) return -1;
  if (i > whole) return 1;
  return floor == d ? 0 : -1;
}

int CompareBigDouble(const BIGNUM* big, double d) {
  if (std::isnan(d)) return 1;
  if (std::isinf(d)) return d > 0 ? -1 : 1;
  // A normalized big integer lies outside int64, so a double within that
  // range is decided by the big integer's sign.
  if (std::fabs(d) < kTwoPow63) return BN_is_negative(big) ? -1 : 1;
  // Doubles this large are integers.
  BnPtr other = BnFromIntegralDouble(d);
  return BN_cmp(big, other.get());
}

template <typename T>
int Cmp3(const T& a, const T& b) {
  return a < b ? -1 : (b < a ? 1 : 0);
}

size_t Mix(size_t seed, size_t value) { return seed ^ (value + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2)); }

// Go's encoding/json number text from significant digits and the power of
// ten of the first digit (value = d.ddd x 10^exponent): fixed notation within
// [1e-6, 1e21), exponent notation outside with "e-7" rather than "e-07".
std::string FormatDigits(bool negative, std::string digits, int64_t exponent) {
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  std::string out = negative ? "-" : "";
  if (digits != "0" && (exponent < -6 || exponent >= 21)) {
    out.push_back(digits[0]);
    if (digits.size() > 1) {
      out.push_back('.');
      out.append(digits, 1);
    }
    out.push_back('e');
    if (exponent < 0) {
      out += std::to_string(exponent);
    } else {
      out.push_back('+');
      if (exponent < 10) out.push_back('0');
      out += std::to_string(exponent);
    }
    return out;
  }
  if (exponent >= 0) {
    const auto int_len = static_cast<size_t>(exponent) + 1;
    if (digits.size() <= int_len) {
      out += digits;
      out.append(int_len - digits.size(), '0');
    } else {
      out.append(digits, 0, int_len);
      out.push_back('.');
      out.append(digits, int_len);
    }
  } else {
    out += "0.";
    out.append(static_cast<size_t>(-exponent - 1), '0');
    out += digits;
  }
  return out;
}

// Floats as OPA prints them: the shortest digits that read back to the same double.
std::string FormatFloat(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  std::array<char, 64> buffer{};
  const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value, std::chars_format::scientific);
  const std::string_view sci(buffer.data(), static_cast<size_t>(result.ptr - buffer.data()));
  // sci looks like "-d.ddde+XX" or "de-XX".
  const bool negative = sci.front() == '-';
  const size_t e_pos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(negative ? 1 : 0, e_pos - (negative ? 1 : 0))) {
    if (c != '.') digits.push_back(c);
  }
  int exponent = 0;
  std::from_chars(sci.data() + e_pos + (sci[e_pos + 1] == '+' ? 2 : 1), sci.data() + sci.size(), exponent);
  return FormatDigits(negative, std::move(digits), exponent);
}

tl::unexpected<Error> ArithmeticError(std::string message) {
  return Fail(ErrorCode::kInvalidArgument, std::move(message));
}

}  // namespace

namespace {

std::shared_ptr<const NumRep> SmallRep(int64_t value) {
  if (value >= kCachedMin && value <= kCachedMax) return CachedSmall(value);
  auto rep = std::make_shared<NumRep>();
  rep->small = value;
  return rep;
}

// Takes ownership of a big integer result, shrinking it to int64 when it fits.
std::shared_ptr<const NumRep> RepFromBn(BnPtr bn) {
  if (auto small = BnToInt64(bn.get())) return SmallRep(*small);
  auto rep = std::make_shared<NumRep>();
  rep->type = NumType::kBig;
  rep->big = std::move(bn);
  return rep;
}

}  // namespace

namespace {

// Integral literals written with a fraction or an exponent become plain
// integers up to this many digits; larger ones (1e400) stay decimals.
constexpr size_t kMaxExactDigits = 400;

// Literal exponents beyond this are refused: they would build enormous numbers.
constexpr int64_t kMaxLiteralExponent = 100000;

// A decimal literal as sign, significant digits (no leading or trailing
// zeros; empty for zero) and a power of ten.
struct DecimalParts {
  bool negative = false;
  std::string digits;
  int64_t exponent = 0;
};

DecimalParts Decompose(std::string_view literal) {
  DecimalParts parts;
  size_t i = 0;
  if (literal[i] == '-') {
    parts.negative = true;
    ++i;
  }
  for (; i < literal.size() && literal[i] >= '0' && literal[i] <= '9'; ++i) parts.digits.push_back(literal[i]);
  if (i < literal.size() && literal[i] == '.') {
    for (++i; i < literal.size() && literal[i] >= '0' && literal[i] <= '9'; ++i) {
      parts.digits.push_back(literal[i]);
      --parts.exponent;
    }
  }
  if (i < literal.size() && (literal[i] == 'e' || literal[i] == 'E')) {
    ++i;
    const bool negative = literal[i] == '-';
    if (literal[i] == '+' || literal[i] == '-') ++i;
    int64_t written = 0;
    for (; i < literal.size(); ++i) {
      written = std::min<int64_t>(written * 10 + (literal[i] - '0'), 1'000'000'000);
    }
    parts.exponent += negative ? -written : written;
  }
  const size_t first = parts.digits.find_first_not_of('0');
  if (first == std::string::npos) {
    parts.digits.clear();
    parts.exponent = 0;
    return parts;
  }
  parts.digits.erase(0, first);
  while (parts.digits.back() == '0') {
    parts.digits.pop_back();
    ++parts.exponent;
  }
  return parts;
}

// The plain integer text of an integral value ("1.50e2" -> "150"); nullopt
// when it has a fraction or too many digits.
std::optional<std::string> IntegralText(const DecimalParts& parts) {
  if (parts.digits.empty()) return std::string("0");
  if (parts.exponent < 0 || parts.digits.size() + static_cast<uint64_t>(parts.exponent) > kMaxExactDigits) {
    return std::nullopt;
  }
  std::string out = parts.negative ? "-" : "";
  out += parts.digits;
  out.append(static_cast<size_t>(parts.exponent), '0');
  return out;
}

// An integer literal (optional '-', decimal digits) of any size; nullptr when malformed.
std::shared_ptr<const NumRep> IntegerRep(std::string_view digits) {
  int64_t value = 0;
  const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec == std::errc() && ptr == digits.data() + digits.size()) return SmallRep(value);
  BIGNUM* raw = nullptr;
  const std::string text(digits);
  const int parsed = BN_dec2bn(&raw, text.c_str());
  BnPtr bn(raw);
  if (parsed <= 0 || static_cast<size_t>(parsed) != text.size()) return nullptr;
  return RepFromBn(std::move(bn));
}

std::string FormatDecimal(const NumRep& r) {
  std::string digits = BnToString(r.big.get());
  const bool negative = !digits.empty() && digits[0] == '-';
  if (negative) digits.erase(0, 1);
  const int64_t exponent = static_cast<int64_t>(digits.size()) - 1 + r.exponent;
  return FormatDigits(negative, std::move(digits), exponent);
}

bool IsInexact(const NumRep& r) { return r.type == NumType::kFloat || r.type == NumType::kDecimal; }

// A finite number exactly as coefficient * 10^exponent.
struct ExactDecimal {
  BnPtr coefficient;
  int64_t exponent = 0;
};

BnPtr PowerOf(BN_ULONG base, int64_t power) {
  BnPtr result = NewBn();
  BnPtr b = NewBn();
  BN_set_word(b.get(), base);
  BnPtr p = NewBn();
  BN_set_word(p.get(), static_cast<BN_ULONG>(power));
  BnCtxPtr ctx(BN_CTX_new());
  BN_exp(result.get(), b.get(), p.get(), ctx.get());
  return result;
}

ExactDecimal ToExactDecimal(const NumRep& r) {
  ExactDecimal out;
  switch (r.type) {
    case NumType::kSmall: out.coefficient = BnFromInt64(r.small); break;
    case NumType::kBig:
    case NumType::kDecimal:
      out.coefficient.reset(BN_dup(r.big.get()));
      out.exponent = r.type == NumType::kDecimal ? r.exponent : 0;
      break;
    case NumType::kFloat: {
      // value = m * 2^e with an integral m; for e < 0 that is m * 5^-e * 10^e.
      int e = 0;
      const double fraction = std::frexp(std::fabs(r.real), &e);
      const auto mantissa = static_cast<uint64_t>(std::ldexp(fraction, 53));
      e -= 53;
      out.coefficient = NewBn();
      BN_set_word(out.coefficient.get(), mantissa);
      if (e >= 0) {
        BN_lshift(out.coefficient.get(), out.coefficient.get(), e);
      } else {
        BnCtxPtr ctx(BN_CTX_new());
        BnPtr five = PowerOf(5, -e);
        BN_mul(out.coefficient.get(), out.coefficient.get(), five.get(), ctx.get());
        out.exponent = e;
      }
      BN_set_negative(out.coefficient.get(), r.real < 0 ? 1 : 0);
      break;
    }
  }
  return out;
}

int64_t DecimalDigits(const BIGNUM* bn) {
  const std::string text = BnToString(bn);
  return static_cast<int64_t>(text.size()) - (text[0] == '-' ? 1 : 0);
}

// Exact comparison when a literal decimal is involved.
int CompareExactly(const NumRep& x, const NumRep& y) {
  for (const NumRep* r : {&x, &y}) {
    if (r->type == NumType::kFloat && !std::isfinite(r->real)) {
      // Infinities order beyond every decimal; NaN is taken as the smallest.
      const int sign = std::isnan(r->real) ? -1 : (r->real > 0 ? 1 : -1);
      if (x.type == y.type) return Cmp3(x.real, y.real);
      return r == &x ? sign : -sign;
    }
  }
  ExactDecimal a = ToExactDecimal(x);
  ExactDecimal b = ToExactDecimal(y);
  const int sa = BN_is_zero(a.coefficient.get()) ? 0 : (BN_is_negative(a.coefficient.get()) ? -1 : 1);
  const int sb = BN_is_zero(b.coefficient.get()) ? 0 : (BN_is_negative(b.coefficient.get()) ? -1 : 1);
  if (sa != sb || sa == 0) return Cmp3(sa, sb);
  // Same sign: compare orders of magnitude first, so that aligning the
  // exponents below multiplies by a bounded power of ten.
  const int64_t ma = DecimalDigits(a.coefficient.get()) + a.exponent;
  const int64_t mb = DecimalDigits(b.coefficient.get()) + b.exponent;
  if (ma != mb) return sa * Cmp3(ma, mb);
  BnCtxPtr ctx(BN_CTX_new());
  if (a.exponent > b.exponent) {
    BnPtr scale = PowerOf(10, a.exponent - b.exponent);
    BN_mul(a.coefficient.get(), a.coefficient.get(), scale.get(), ctx.get());
  } else if (b.exponent > a.exponent) {
    BnPtr scale = PowerOf(10, b.exponent - a.exponent);
    BN_mul(b.coefficient.get(), b.coefficient.get(), scale.get(), ctx.get());
  }
  return BN_cmp(a.coefficient.get(), b.coefficient.get());
}

}  // namespace

Number::Number() = default;

Number Number::Int(int64_t value) {
  Number n;
  n.rep_ = SmallRep(value);
  return n;
}

Number Number::Float(double value) {
  if (std::floor(value) == value && std::fabs(value) <= kTwoPow53) {
    return Int(static_cast<int64_t>(value));
  }
  Number n;
  auto rep = std::make_shared<Rep>();
  rep->type = Rep::Type::kFloat;
  rep->real = value;
  n.rep_ = std::move(rep);
  return n;
}

Result<Number> Number::Parse(std::string_view literal) {
  const char* begin = literal.data();
  const char* end = literal.data() + literal.size();
  // Validate the JSON number grammar: -?digits(.digits)?([eE][+-]?digits)?
  const char* p = begin;
  if (p != end && *p == '-') ++p;
  const char* int_start = p;
  while (p != end && *p >= '0' && *p <= '9') ++p;
  bool valid = p != int_start;
  bool integral = true;
  if (valid && p != end && *p == '.') {
    integral = false;
    const char* frac_start = ++p;
    while (p != end && *p >= '0' && *p <= '9') ++p;
    valid = p != frac_start;
  }
  if (valid && p != end && (*p == 'e' || *p == 'E')) {
    integral = false;
    ++p;
    if (p != end && (*p == '+' || *p == '-')) ++p;
    const char* exp_start = p;
    while (p != end && *p >= '0' && *p <= '9') ++p;
    valid = p != exp_start;
  }
  if (!valid || p != end) {
    return Fail(ErrorCode::kParse, "invalid number literal \"" + std::string(literal) + "\"");
  }
  // An integral value written with a fraction or an exponent ("1e30", "10.00")
  // is an exact integer, as OPA computes with it.
  std::optional<std::string> exact;
  DecimalParts parts;
  if (!integral) {
    parts = Decompose(literal);
    exact = IntegralText(parts);
  }
  if (integral || exact) {
    auto rep = IntegerRep(integral ? literal : std::string_view(*exact));
    if (!rep) return Fail(ErrorCode::kParse, "invalid number literal \"" + std::string(literal) + "\"");
    Number n;
    n.rep_ = std::move(rep);
    return n;
  }
  double value = 0;
  const auto [ptr, ec] = std::from_chars(begin, end, value);
  // A double stands for the literal when it prints back as the same digits:
  // always up to 15 significant digits, sometimes with 16 or 17
  // (4503599627370496.5 is not a double; the decimal keeps it exact).
  if (ec == std::errc() && ptr == end && std::isfinite(value) && parts.digits.size() <= 17) {
    if (parts.digits.size() <= 15) return Float(value);
    const DecimalParts printed = Decompose(FormatFloat(value));
    if (printed.digits == parts.digits && printed.exponent == parts.exponent) return Float(value);
  }
  if (std::abs(parts.exponent) > kMaxLiteralExponent) {
    return Fail(ErrorCode::kParse, "number literal out of range \"" + std::string(literal) + "\"");
  }
  BIGNUM* raw = nullptr;
  if (BN_dec2bn(&raw, parts.digits.c_str()) == 0) return Fail(ErrorCode::kInternal, "BN_dec2bn failed");
  auto rep = std::make_shared<Rep>();
  rep->type = Rep::Type::kDecimal;
  rep->big = BnPtr(raw);
  BN_set_negative(rep->big.get(), parts.negative ? 1 : 0);
  rep->exponent = parts.exponent;
  Number n;
  n.rep_ = std::move(rep);
  return n;
}

bool Number::is_integer() const {
  const Rep& r = rep_ ? *rep_ : ZeroRep();
  if (r.type == Rep::Type::kDecimal) return r.exponent >= 0;
  if (r.type != Rep::Type::kFloat) return true;
  return std::isfinite(r.real) && std::floor(r.real) == r.real;
}

std::optional<int64_t> Number::ToInt64() const {
  const Rep& r = rep_ ? *rep_ : ZeroRep();
  switch (r.type) {
    case Rep::Type::kSmall: return r.small;
    case Rep::Type::kBig:
    case Rep::Type::kDecimal: return std::nullopt;
    case Rep::Type::kFloat:
      if (std::floor(r.real) == r.real && r.real >= -kTwoPow63 && r.real < kTwoPow63) {
        return static_cast<int64_t>(r.real);
      }
      return std::nullopt;
  }
  return std::nullopt;
}

double Number::ToDouble() const {
  const Rep& r = rep_ ? *rep_ : ZeroRep();
  switch (r.type) {
    case Rep::Type::kSmall: return static_cast<double>(r.small);
    case Rep::Type::kBig: return BnToDouble(r.big.get());
    case Rep::Type::kFloat: return r.real;
    case Rep::Type::kDecimal: {
      const std::string text = BnToString(r.big.get()) + "e" + std::to_string(r.exponent);
      return std::strtod(text.c_str(), nullptr);
    }
  }
  return 0;
}

std::string Number::ToString() const {
  const Rep& r = rep_ ? *rep_ : ZeroRep();
  switch (r.type) {
    case Rep::Type::kSmall: return std::to_string(r.small);
    case Rep::Type::kBig: return BnToString(r.big.get());
    case Rep::Type::kFloat: return FormatFloat(r.real);
    case Rep::Type::kDecimal: return FormatDecimal(r);
  }
  return "0";
}

namespace {

// An integer operand as a big integer (for the slow paths).
BnPtr ToBn(const NumRep& r) {
  if (r.type == NumType::kBig) {
    BnPtr copy(BN_dup(r.big.get()));
    if (!copy) std::abort();
    return copy;
  }
  if (r.type == NumType::kSmall) return BnFromInt64(r.small);
  if (r.type == NumType::kDecimal) {
    // Only integral decimals get here (exponent >= 0, bounded by the literal limit).
    BnPtr value(BN_dup(r.big.get()));
    BnPtr scale = PowerOf(10, r.exponent);
    BnCtxPtr ctx(BN_CTX_new());
    BN_mul(value.get(), value.get(), scale.get(), ctx.get());
    return value;
  }
  return BnFromIntegralDouble(r.real);
}

bool IsIntegral(const NumRep& r) {
  if (r.type == NumType::kDecimal) return r.exponent >= 0;
  return r.type != NumType::kFloat || (std::isfinite(r.real) && std::floor(r.real) == r.real);
}

}  // namespace

Result<Number> Number::Add(const Number& other) const {
  const Rep& a = rep_ ? *rep_ : ZeroRep();
  const Rep& b = other.rep_ ? *other.rep_ : ZeroRep();
  if (a.type == Rep::Type::kSmall && b.type == Rep::Type::kSmall) {
    int64_t sum = 0;
    if (!__builtin_add_overflow(a.small, b.small, &sum)) return Int(sum);
  }
  if (IsInexact(a) || IsInexact(b)) return Float(ToDouble() + other.ToDouble());
  BnPtr x = ToBn(a);
  BnPtr y = ToBn(b);
  BN_add(x.get(), x.get(), y.get());
  Number result;
  result.rep_ = RepFromBn(std::move(x));
  return result;
}

Result<Number> Number::Subtract(const Number& other) const { return Add(other.Negate()); }

Result<Number> Number::Multiply(const Number& other) const {
  const Rep& a = rep_ ? *rep_ : ZeroRep();
  const Rep& b = other.rep_ ? *other.rep_ : ZeroRep();
  if (a.type == Rep::Type::kSmall && b.type == Rep::Type::kSmall) {
    int64_t product = 0;
    if (!__builtin_mul_overflow(a.small, b.small, &product)) return Int(product);
  }
  if (IsInexact(a) || IsInexact(b)) return Float(ToDouble() * other.ToDouble());
  BnPtr x = ToBn(a);
  BnPtr y = ToBn(b);
  BnCtxPtr ctx(BN_CTX_new());
  BN_mul(x.get(), x.get(), y.get(), ctx.get());
  Number result;
  result.rep_ = RepFromBn(std::move(x));
  return result;
}

namespace {

// OPA divides as Go's big.Float does at its default precision: each operand
// is rounded to a 64-bit mantissa (round half to even), so is the quotient,
// and the result is the shortest decimal that identifies that 64-bit value
// (big.Float.Text with precision -1). -524 / -56 is 9.357142857142857143, not
// the double 9.357142857142858, and a quotient of big integers keeps only 64
// significant bits: (2^65 + 2) / 2 is 18446744073709551616 in OPA. We compute
// the same, exactly, on big integers.
constexpr int kOpaMantissaBits = 64;

// A finite non-zero binary float: mantissa * 2^exponent, mantissa in [2^63, 2^64).
struct OpaFloat {
  BnPtr mantissa;
  int64_t exponent = 0;
  bool negative = false;
};

bool IsOdd(const BIGNUM* bn) { return BN_is_odd(bn) != 0; }

// numerator / denominator * 2^exponent (both positive), rounded to 64 bits, half to even.
OpaFloat RoundQuotient(const BIGNUM* numerator, const BIGNUM* denominator, int64_t exponent) {
  // Scale so that the integer quotient has 65 or 66 bits: one or two bits to round off.
  const int64_t shift = kOpaMantissaBits + 1 - (BN_num_bits(numerator) - BN_num_bits(denominator));
  BnPtr num(BN_dup(numerator));
  BnPtr den(BN_dup(denominator));
  if (!num || !den) std::abort();
  if (shift > 0) {
    BN_lshift(num.get(), num.get(), static_cast<int>(shift));
  } else if (shift < 0) {
    BN_lshift(den.get(), den.get(), static_cast<int>(-shift));
  }
  OpaFloat out;
  out.mantissa = NewBn();
  BnPtr remainder = NewBn();
  BnCtxPtr ctx(BN_CTX_new());
  BN_div(out.mantissa.get(), remainder.get(), num.get(), den.get(), ctx.get());
  const bool sticky = !BN_is_zero(remainder.get());
  const int extra = BN_num_bits(out.mantissa.get()) - kOpaMantissaBits;  // 1 or 2
  // The bits rounded off, compared with half of their unit.
  BnPtr low(BN_dup(out.mantissa.get()));
  BN_mask_bits(low.get(), extra);
  BN_rshift(out.mantissa.get(), out.mantissa.get(), extra);
  const BN_ULONG dropped = BN_get_word(low.get());
  const BN_ULONG half = static_cast<BN_ULONG>(1) << (extra - 1);
  out.exponent = exponent - shift + extra;
  if (dropped > half || (dropped == half && (sticky || IsOdd(out.mantissa.get())))) {
    BN_add_word(out.mantissa.get(), 1);
    if (BN_num_bits(out.mantissa.get()) > kOpaMantissaBits) {  // 2^64: renormalize
      BN_rshift1(out.mantissa.get(), out.mantissa.get());
      ++out.exponent;
    }
  }
  return out;
}

// A number as OPA reads it into a big.Float. OPA holds numbers as decimal
// text; a double of ours stands for its shortest text. nullopt for zero,
// infinities and NaN. (Go scales a literal's digits by 5^k rounded to 128
// bits, which can round differently from our single exact rounding only when
// its power of ten, k, is beyond 55 either way: 1e60, 1e-60.)
std::optional<OpaFloat> ToOpaFloat(const NumRep& r) {
  BnPtr coefficient;
  int64_t exponent10 = 0;
  switch (r.type) {
    case NumType::kSmall:
    case NumType::kBig: coefficient = ToBn(r); break;
    case NumType::kDecimal:
      coefficient.reset(BN_dup(r.big.get()));
      if (!coefficient) std::abort();
      exponent10 = r.exponent;
      break;
    case NumType::kFloat: {
      if (!std::isfinite(r.real)) return std::nullopt;
      const DecimalParts parts = Decompose(FormatFloat(r.real));
      if (parts.digits.empty()) return std::nullopt;
      BIGNUM* raw = nullptr;
      if (BN_dec2bn(&raw, parts.digits.c_str()) == 0) std::abort();
      coefficient.reset(raw);
      BN_set_negative(coefficient.get(), parts.negative ? 1 : 0);
      exponent10 = parts.exponent;
      break;
    }
  }
  if (BN_is_zero(coefficient.get())) return std::nullopt;
  const bool negative = BN_is_negative(coefficient.get()) != 0;
  BN_set_negative(coefficient.get(), 0);
  BnPtr one = NewBn();
  BN_one(one.get());
  OpaFloat out;
  if (exponent10 >= 0) {
    BnPtr scale = PowerOf(10, exponent10);
    BnCtxPtr ctx(BN_CTX_new());
    BN_mul(coefficient.get(), coefficient.get(), scale.get(), ctx.get());
    out = RoundQuotient(coefficient.get(), one.get(), 0);
  } else {
    BnPtr scale = PowerOf(10, -exponent10);
    out = RoundQuotient(coefficient.get(), scale.get(), 0);
  }
  out.negative = negative;
  return out;
}

// The leading decimal digits of mantissa * 2^exponent (> 0) as Go's decimal
// type holds them: value = 0.digits * 10^point. When the expansion is longer
// than kDigits it is cut there (exact == false); the shortest-digit walk ends
// long before (two 64-bit neighbours differ within 21 digits).
struct GoDecimal {
  std::string digits;
  int64_t point = 0;
  bool exact = true;
};

constexpr int64_t kDigits = 60;

GoDecimal ToGoDecimal(const BIGNUM* mantissa, int64_t exponent) {
  // value * 10^scale has about kDigits digits before the point.
  const auto magnitude =
      static_cast<int64_t>(std::floor(static_cast<double>(BN_num_bits(mantissa) + exponent) * 0.30102999566398120));
  const int64_t scale = kDigits - magnitude;
  BnPtr numerator(BN_dup(mantissa));
  if (!numerator) std::abort();
  BnPtr denominator = NewBn();
  BN_one(denominator.get());
  BnCtxPtr ctx(BN_CTX_new());
  if (scale >= 0) {
    BnPtr power = PowerOf(10, scale);
    BN_mul(numerator.get(), numerator.get(), power.get(), ctx.get());
  } else {
    denominator = PowerOf(10, -scale);
  }
  if (exponent >= 0) {
    BN_lshift(numerator.get(), numerator.get(), static_cast<int>(exponent));
  } else {
    BN_lshift(denominator.get(), denominator.get(), static_cast<int>(-exponent));
  }
  BnPtr quotient = NewBn();
  BnPtr remainder = NewBn();
  BN_div(quotient.get(), remainder.get(), numerator.get(), denominator.get(), ctx.get());
  GoDecimal out;
  out.digits = BnToString(quotient.get());
  out.point = static_cast<int64_t>(out.digits.size()) - scale;
  out.exact = BN_is_zero(remainder.get());
  if (out.exact) {
    while (!out.digits.empty() && out.digits.back() == '0') out.digits.pop_back();
  }
  return out;
}

char DigitAt(const GoDecimal& d, size_t i) { return i < d.digits.size() ? d.digits[i] : '0'; }

// Go's decimal rounding at n digits (math/big decimal.go).
void RoundDownAt(GoDecimal& d, size_t n) {
  if (n >= d.digits.size()) return;
  d.digits.resize(n);
  while (!d.digits.empty() && d.digits.back() == '0') d.digits.pop_back();
}

void RoundUpAt(GoDecimal& d, size_t n) {
  if (n >= d.digits.size()) return;
  while (n > 0 && d.digits[n - 1] >= '9') --n;
  if (n == 0) {
    d.digits = "1";
    ++d.point;
    return;
  }
  ++d.digits[n - 1];
  d.digits.resize(n);
}

void RoundAt(GoDecimal& d, size_t n) {
  if (n >= d.digits.size()) return;
  // Half to even, counting the cut-off digits of an inexact expansion as more than half.
  const bool half_exactly = d.digits[n] == '5' && n + 1 == d.digits.size() && d.exact;
  const bool up = half_exactly ? n > 0 && ((d.digits[n - 1] - '0') & 1) != 0 : d.digits[n] >= '5';
  if (up) {
    RoundUpAt(d, n);
  } else {
    RoundDownAt(d, n);
  }
}

// The shortest decimal that identifies the 64-bit value, as Go's
// big.Float.Text(_, -1) finds it (math/big ftoa.go roundShortest): the
// interval is half a unit in the last place either side, inclusive when the
// mantissa is even.
GoDecimal ShortestDigits(const OpaFloat& value) {
  GoDecimal d = ToGoDecimal(value.mantissa.get(), value.exponent);
  BnPtr twice(BN_dup(value.mantissa.get()));
  if (!twice) std::abort();
  BN_lshift1(twice.get(), twice.get());
  BnPtr below(BN_dup(twice.get()));
  BnPtr above(BN_dup(twice.get()));
  if (!below || !above) std::abort();
  BN_sub_word(below.get(), 1);
  BN_add_word(above.get(), 1);
  const GoDecimal lower = ToGoDecimal(below.get(), value.exponent - 1);
  const GoDecimal upper = ToGoDecimal(above.get(), value.exponent - 1);
  const bool inclusive = !IsOdd(value.mantissa.get());
  for (size_t i = 0; i < d.digits.size(); ++i) {
    const char l = DigitAt(lower, i);
    const char m = d.digits[i];
    const char u = DigitAt(upper, i);
    const bool lower_ends_here = lower.exact && i + 1 == lower.digits.size();
    const bool upper_ends_later = !upper.exact || i + 1 < upper.digits.size();
    const bool ok_down = l != m || (inclusive && lower_ends_here);
    const bool ok_up = m != u && (inclusive || m + 1 < u || upper_ends_later);
    if (ok_down && ok_up) {
      RoundAt(d, i + 1);
      return d;
    }
    if (ok_down) {
      RoundDownAt(d, i + 1);
      return d;
    }
    if (ok_up) {
      RoundUpAt(d, i + 1);
      return d;
    }
  }
  return d;
}

}  // namespace

Result<Number> Number::Divide(const Number& other) const {
  const Rep& a = rep_ ? *rep_ : ZeroRep();
  const Rep& b = other.rep_ ? *other.rep_ : ZeroRep();
  if (Compare(other, Number()) == 0) return ArithmeticError("divide by zero");
  // An exact quotient of integers that fit 64 bits is exact in OPA too.
  if (a.type == Rep::Type::kSmall && b.type == Rep::Type::kSmall && !(a.small == INT64_MIN && b.small == -1) &&
      a.small % b.small == 0) {
    return Int(a.small / b.small);
  }
  const std::optional<OpaFloat> x = ToOpaFloat(a);
  const std::optional<OpaFloat> y = ToOpaFloat(b);
  if (!y) return Float(ToDouble() / other.ToDouble());  // an infinite or NaN divisor
  if (!x) {
    if (Compare(*this, Number()) == 0) return Int(0);
    return Float(ToDouble() / other.ToDouble());  // an infinite or NaN dividend
  }
  OpaFloat quotient = RoundQuotient(x->mantissa.get(), y->mantissa.get(), x->exponent - y->exponent);
  const GoDecimal digits = ShortestDigits(quotient);
  // The same text as a literal gives the same representation as that literal.
  std::string text = (x->negative != y->negative) ? "-0." : "0.";
  text += digits.digits;
  text += "e" + std::to_string(digits.point);
  if (auto result = Parse(text)) return result;
  // Beyond the range of literals (1e-100000 / 3): a decimal all the same.
  BIGNUM* raw = nullptr;
  if (BN_dec2bn(&raw, digits.digits.c_str()) == 0) std::abort();
  auto rep = std::make_shared<Rep>();
  rep->type = Rep::Type::kDecimal;
  rep->big = BnPtr(raw);
  BN_set_negative(rep->big.get(), x->negative != y->negative ? 1 : 0);
  rep->exponent = digits.point - static_cast<int64_t>(digits.digits.size());
  Number n;
  n.rep_ = std::move(rep);
  return n;
}

Result<Number> Number::Remainder(const Number& other) const {
  const Rep& a = rep_ ? *rep_ : ZeroRep();
  const Rep& b = other.rep_ ? *other.rep_ : ZeroRep();
  if (!IsIntegral(a) || !IsIntegral(b)) return ArithmeticError("modulo on floating-point number");
  if (Compare(other, Number()) == 0) return ArithmeticError("modulo by zero");
  if (a.type == Rep::Type::kSmall && b.type == Rep::Type::kSmall) {
    if (b.small == -1) return Int(0);
    return Int(a.small % b.small);
  }
  BnPtr x = ToBn(a);
  BnPtr y = ToBn(b);
  BnPtr remainder = NewBn();
  BnCtxPtr ctx(BN_CTX_new());
  // BN_div truncates towards zero and gives the remainder the dividend's sign, as Go's big.Int.Rem.
  BN_div(nullptr, remainder.get(), x.get(), y.get(), ctx.get());
  Number result;
  result.rep_ = RepFromBn(std::move(remainder));
  return result;
}

Number Number::Negate() const {
  const Rep& a = rep_ ? *rep_ : ZeroRep();
  switch (a.type) {
    case Rep::Type::kSmall:
      if (a.small != INT64_MIN) return Int(-a.small);
      break;
    case Rep::Type::kFloat: return Float(-a.real);
    case Rep::Type::kDecimal: {
      auto rep = std::make_shared<Rep>();
      rep->type = Rep::Type::kDecimal;
      rep->big.reset(BN_dup(a.big.get()));
      BN_set_negative(rep->big.get(), BN_is_negative(a.big.get()) ? 0 : 1);
      rep->exponent = a.exponent;
      Number n;
      n.rep_ = std::move(rep);
      return n;
    }
    case Rep::Type::kBig: break;
  }
  BnPtr x = ToBn(a);
  BN_set_negative(x.get(), BN_is_negative(x.get()) ? 0 : 1);
  Number result;
  result.rep_ = RepFromBn(std::move(x));
  return result;
}

int Compare(const Number& a, const Number& b) {
  if (a.rep_ == b.rep_) return 0;
  const NumRep& x = a.rep_ ? *a.rep_ : ZeroRep();
  const NumRep& y = b.rep_ ? *b.rep_ : ZeroRep();
  using T = NumRep::Type;
  switch (x.type) {
    case T::kSmall:
      switch (y.type) {
        case T::kSmall: return Cmp3(x.small, y.small);
        case T::kBig: return BN_is_negative(y.big.get()) ? 1 : -1;
        case T::kFloat: return CompareInt64Double(x.small, y.real);
        case T::kDecimal: break;
      }
      break;
    case T::kBig:
      switch (y.type) {
        case T::kSmall: return BN_is_negative(x.big.get()) ? -1 : 1;
        case T::kBig: return BN_cmp(x.big.get(), y.big.get());
        case T::kFloat: return CompareBigDouble(x.big.get(), y.real);
        case T::kDecimal: break;
      }
      break;
    case T::kFloat:
      switch (y.type) {
        case T::kSmall: return -CompareInt64Double(y.small, x.real);
        case T::kBig: return -CompareBigDouble(y.big.get(), x.real);
        case T::kFloat: return Cmp3(x.real, y.real);
        case T::kDecimal: break;
      }
      break;
    case T::kDecimal: break;
  }
  return CompareExactly(x, y);
}

size_t Number::Hash() const {
  // Equal numbers must hash alike across representations (1 == 1.0, and a
  // big integer equals the double of the same value).
  const Rep& r = rep_ ? *rep_ : ZeroRep();
  switch (r.type) {
    case Rep::Type::kSmall: return std::hash<int64_t>()(r.small);
    case Rep::Type::kBig: return std::hash<double>()(BnToDouble(r.big.get()));
    case Rep::Type::kDecimal: return std::hash<double>()(ToDouble());
    case Rep::Type::kFloat:
      if (auto i = ToInt64()) return std::hash<int64_t>()(*i);
      return std::hash<double>()(r.real);
  }
  return 0;
}

// ---------------------------------------------------------------------------
// Value
// ---------------------------------------------------------------------------

std::string_view KindName(Kind kind) {
  switch (kind) {
    case Kind::kNull: return "null";
    case Kind::kBool: return "boolean";
    case Kind::kNumber: return "number";
    case Kind::kString: return "string";
    case Kind::kArray: return "array";
    case Kind::kObject: return "object";
    case Kind::kSet: return "set";
  }
  return "unknown";
}

static_assert(static_cast<size_t>(Kind::kObject) == 5 && static_cast<size_t>(Kind::kSet) == 6);

const std::shared_ptr<const Value::Rep>& Value::BoolRep(bool b) {
  static const auto* const kTrue = new std::shared_ptr<const Value::Rep>(std::make_shared<const Value::Rep>(true));
  static const auto* const kFalse = new std::shared_ptr<const Value::Rep>(std::make_shared<const Value::Rep>(false));
  return b ? *kTrue : *kFalse;
}

Value::Value(std::shared_ptr<const Rep> rep) : rep_(std::move(rep)) {}

const Number& Value::EmptyNumber() {
  static const Number kZero;
  return kZero;
}
const std::string& Value::EmptyString() {
  static const std::string kEmpty;
  return kEmpty;
}
const Value::Array& Value::EmptyArray() {
  static const Array kEmpty;
  return kEmpty;
}
const Value::Set& Value::EmptySet() {
  static const Set kEmpty;
  return kEmpty;
}
const Value::Object& Value::EmptyObject() {
  static const Object kEmpty;
  return kEmpty;
}

Value Value::Num(Number n) { return Value(std::make_shared<const Rep>(std::move(n))); }
Value Value::Int(int64_t i) {
  // Small integers (indexes, counts) are shared like null and the booleans.
  static const auto* const cache = [] {
    auto* table = new std::vector<std::shared_ptr<const Rep>>();
    for (int64_t n = kCachedMin; n <= kCachedMax; ++n) table->push_back(std::make_shared<const Rep>(Number::Int(n)));
    return table;
  }();
  if (i >= kCachedMin && i <= kCachedMax) return Value((*cache)[static_cast<size_t>(i - kCachedMin)]);
  return Num(Number::Int(i));
}
Value Value::String(std::string s) { return Value(std::make_shared<const Rep>(std::move(s))); }
Value Value::FromArray(Array items) { return Value(std::make_shared<const Rep>(std::move(items))); }
Value Value::FromSet(Set items) { return Value(std::make_shared<const Rep>(std::move(items))); }
Value Value::FromObject(Object items) { return Value(std::make_shared<const Rep>(std::move(items))); }

const Value* Value::Find(const Value& key) const {
  switch (kind()) {
    case Kind::kArray: {
      if (!key.is_number()) return nullptr;
      const auto index = key.as_number().ToInt64();
      const Array& items = as_array();
      if (!index || *index < 0 || static_cast<uint64_t>(*index) >= items.size()) return nullptr;
      return &items[static_cast<size_t>(*index)];
    }
    case Kind::kObject: {
      const Object& members = as_object();
      auto it = key.is_string() ? members.find(std::string_view(key.as_string())) : members.find(key);
      return it == members.end() ? nullptr : &it->second;
    }
    case Kind::kSet: {
      const Set& items = as_set();
      auto it = items.find(key);
      return it == items.end() ? nullptr : &*it;
    }
    default: return nullptr;
  }
}

const Value* Value::Get(std::string_view key) const {
  if (!is_object()) return nullptr;
  const Object& members = as_object();
  auto it = members.find(key);
  return it == members.end() ? nullptr : &it->second;
}

namespace {

template <typename Container>
int CompareSequences(const Container& a, const Container& b) {
  auto ia = a.begin();
  auto ib = b.begin();
  for (; ia != a.end() && ib != b.end(); ++ia, ++ib) {
    if (const int c = Compare(*ia, *ib); c != 0) return c;
  }
  if (ia == a.end()) return ib == b.end() ? 0 : -1;
  return 1;
}

int CompareObjects(const Value::Object& a, const Value::Object& b) {
  auto ia = a.begin();
  auto ib = b.begin();
  for (; ia != a.end() && ib != b.end(); ++ia, ++ib) {
    if (const int c = Compare(ia->first, ib->first); c != 0) return c;
    if (const int c = Compare(ia->second, ib->second); c != 0) return c;
  }
  if (ia == a.end()) return ib == b.end() ? 0 : -1;
  return 1;
}

}  // namespace

int Compare(const Value& a, const Value& b) {
  if (a.rep_ == b.rep_) return 0;
  const size_t ka = a.rep_ ? a.rep_->data.index() : 0;
  const size_t kb = b.rep_ ? b.rep_->data.index() : 0;
  if (ka != kb) return ka < kb ? -1 : 1;
  if (ka == 0) return 0;  // both null
  const auto& da = a.rep_->data;
  const auto& db = b.rep_->data;
  switch (static_cast<Kind>(ka)) {
    case Kind::kNull: return 0;
    case Kind::kBool: return Cmp3(*std::get_if<bool>(&da), *std::get_if<bool>(&db));
    case Kind::kNumber: return Compare(*std::get_if<Number>(&da), *std::get_if<Number>(&db));
    case Kind::kString: {
      const int c = std::get_if<std::string>(&da)->compare(*std::get_if<std::string>(&db));
      return c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
    case Kind::kArray: return CompareSequences(*std::get_if<Value::Array>(&da), *std::get_if<Value::Array>(&db));
    case Kind::kObject: return CompareObjects(*std::get_if<Value::Object>(&da), *std::get_if<Value::Object>(&db));
    case Kind::kSet: return CompareSequences(*std::get_if<Value::Set>(&da), *std::get_if<Value::Set>(&db));
  }
  return 0;
}

bool Equal(const Value& a, const Value& b) {
  if (a.rep_ == b.rep_) return true;
  const size_t ka = a.rep_ ? a.rep_->data.index() : 0;
  const size_t kb = b.rep_ ? b.rep_->data.index() : 0;
  if (ka != kb) return false;
  if (ka == 0) return true;  // both null
  const auto& da = a.rep_->data;
  const auto& db = b.rep_->data;
  switch (static_cast<Kind>(ka)) {
    case Kind::kNull: return true;
    case Kind::kBool: return *std::get_if<bool>(&da) == *std::get_if<bool>(&db);
    case Kind::kNumber: return Compare(*std::get_if<Number>(&da), *std::get_if<Number>(&db)) == 0;
    case Kind::kString: return *std::get_if<std::string>(&da) == *std::get_if<std::string>(&db);
    case Kind::kArray: {
      const Value::Array& x = *std::get_if<Value::Array>(&da);
      const Value::Array& y = *std::get_if<Value::Array>(&db);
      return x.size() == y.size() && std::equal(x.begin(), x.end(), y.begin(), Equal);
    }
    case Kind::kObject: {
      // Equal objects list the same keys in the same order.
      const Value::Object& x = *std::get_if<Value::Object>(&da);
      const Value::Object& y = *std::get_if<Value::Object>(&db);
      return x.size() == y.size() && std::equal(x.begin(), x.end(), y.begin(), [](const auto& p, const auto& q) {
               return Equal(p.first, q.first) && Equal(p.second, q.second);
             });
    }
    case Kind::kSet: {
      const Value::Set& x = *std::get_if<Value::Set>(&da);
      const Value::Set& y = *std::get_if<Value::Set>(&db);
      return x.size() == y.size() && std::equal(x.begin(), x.end(), y.begin(), Equal);
    }
  }
  return false;
}

size_t Value::Hash() const {
  const Kind k = kind();
  const bool collection = k == Kind::kArray || k == Kind::kObject || k == Kind::kSet;
  if (collection) {
    if (const size_t cached = rep_->hash.load(std::memory_order_relaxed); cached != 0) return cached;
  }
  size_t seed = static_cast<size_t>(k);
  switch (k) {
    case Kind::kNull: break;
    case Kind::kBool: seed = Mix(seed, as_bool() ? 1 : 0); break;
    case Kind::kNumber: seed = Mix(seed, as_number().Hash()); break;
    case Kind::kString: seed = Mix(seed, std::hash<std::string>()(as_string())); break;
    case Kind::kArray:
      for (const Value& item : as_array()) seed = Mix(seed, item.Hash());
      break;
    case Kind::kObject:
      for (const auto& [key, value] : as_object()) seed = Mix(Mix(seed, key.Hash()), value.Hash());
      break;
    case Kind::kSet:
      for (const Value& item : as_set()) seed = Mix(seed, item.Hash());
      break;
  }
  if (collection) {
    if (seed == 0) seed = 1;
    rep_->hash.store(seed, std::memory_order_relaxed);
  }
  return seed;
}

// ---------------------------------------------------------------------------
// JSON reading
// ---------------------------------------------------------------------------

namespace {

// Length of the well-formed UTF-8 sequence at `pos` (0 when invalid): no
// overlong forms, no surrogates, nothing above U+10FFFF.
size_t WellFormedUtf8Length(std::string_view text, size_t pos) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[pos + i]); };
  const size_t left = text.size() - pos;
  const unsigned char b0 = byte(0);
  const auto cont = [&](size_t i) { return i < left && (byte(i) & 0xC0) == 0x80; };
  if (b0 >= 0xC2 && b0 <= 0xDF) return cont(1) ? 2 : 0;
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (b0 == 0xE0 && byte(1) < 0xA0) return 0;
    if (b0 == 0xED && byte(1) >= 0xA0) return 0;
    return 3;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (b0 == 0xF0 && byte(1) < 0x90) return 0;
    if (b0 == 0xF4 && byte(1) >= 0x90) return 0;
    return 4;
  }
  return 0;
}

class JsonReader {
 public:
  JsonReader(std::string_view text, size_t max_depth, bool last_key_wins = false)
      : text_(text), max_depth_(max_depth), last_key_wins_(last_key_wins) {}

  Result<Value> Read() {
    struct Frame {
      bool is_object = false;
      Value::Array items;
      Value::Object members;
      Value key;
      // Where `key` goes in `members`; nullopt for the end, whose iterator
      // would not survive the frame being moved when the stack grows.
      std::optional<Value::Object::iterator> hint;
    };
    std::vector<Frame> stack;
    Value current;
    for (;;) {
      // Read one value; containers push a frame and continue with their first member.
      SkipSpace();
      if (pos_ >= text_.size()) return Error("unexpected end of input");
      const char c = text_[pos_];
      if (c == '{' || c == '[') {
        if (stack.size() >= max_depth_) return Error("nesting deeper than " + std::to_string(max_depth_));
        ++pos_;
        SkipSpace();
        const char close = c == '{' ? '}' : ']';
        if (pos_ < text_.size() && text_[pos_] == close) {
          ++pos_;
          current = c == '{' ? Value::FromObject({}) : Value::FromArray({});
        } else {
          stack.push_back(Frame{c == '{', {}, {}, {}, {}});
          if (c == '{') {
            auto status = ReadKey(stack.back().members, &stack.back().key, &stack.back().hint);
            if (!status) return tl::unexpected(status.error());
          }
          continue;
        }
      } else {
        auto scalar = ReadScalar();
        if (!scalar) return scalar;
        current = std::move(*scalar);
      }
      // Attach the value to its parents, closing every container that ends here.
      for (;;) {
        if (stack.empty()) {
          SkipSpace();
          if (pos_ != text_.size()) return Error("unexpected data after the top-level value");
          return current;
        }
        Frame& top = stack.back();
        if (top.is_object) {
          top.members.emplace_hint(top.hint.value_or(top.members.end()), std::move(top.key), std::move(current));
        } else {
          top.items.push_back(std::move(current));
        }
        SkipSpace();
        if (pos_ >= text_.size()) return Error("unexpected end of input");
        const char d = text_[pos_];
        if (d == ',') {
          ++pos_;
          if (top.is_object) {
            auto status = ReadKey(top.members, &top.key, &top.hint);
            if (!status) return tl::unexpected(status.error());
          }
          break;
        }
        if (d == (top.is_object ? '}' : ']')) {
          ++pos_;
          current = top.is_object ? Value::FromObject(std::move(top.members)) : Value::FromArray(std::move(top.items));
          stack.pop_back();
          continue;
        }
        return Error(top.is_object ? "expected ',' or '}'" : "expected ',' or ']'");
      }
    }
  }

 private:
  tl::unexpected<contrast::Error> Error(std::string_view message) const { return ErrorAt(pos_, message); }
  tl::unexpected<contrast::Error> ErrorAt(size_t offset, std::string_view message) const {
    return Fail(ErrorCode::kParse, "invalid JSON at offset " + std::to_string(offset) + ": " + std::string(message));
  }

  void SkipSpace() {
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return;
      ++pos_;
    }
  }

  // Reads `"key":`, rejecting a key the object already has; *hint is where it goes.
  Status ReadKey(Value::Object& members, Value* key, std::optional<Value::Object::iterator>* hint) {
    SkipSpace();
    const size_t start = pos_;
    if (pos_ >= text_.size() || text_[pos_] != '"') return Error("expected a string object key");
    auto text = ReadString();
    if (!text) return tl::unexpected(text.error());
    Value candidate = Value::String(std::move(*text));
    // Keys usually arrive sorted, so try the end before searching.
    auto position = members.end();
    if (!members.empty() && !(std::prev(members.end())->first < candidate)) position = members.lower_bound(candidate);
    if (position != members.end() && !(candidate < position->first)) {
      if (!last_key_wins_) return ErrorAt(start, "duplicate object key " + candidate.ToJson());
      position = members.erase(position);
    }
    *hint = position == members.end() ? std::nullopt : std::optional(position);
    SkipSpace();
    if (pos_ >= text_.size() || text_[pos_] != ':') return Error("expected ':' after an object key");
    ++pos_;
    *key = std::move(candidate);
    return {};
  }

  Result<Value> ReadScalar() {
    const char c = text_[pos_];
    if (c == '"') {
      auto text = ReadString();
      if (!text) return tl::unexpected(text.error());
      return Value::String(std::move(*text));
    }
    if (c == '-' || (c >= '0' && c <= '9')) return ReadNumber();
    if (Consume("true")) return Value::Bool(true);
    if (Consume("false")) return Value::Bool(false);
    if (Consume("null")) return Value::Null();
    return Error("unexpected character");
  }

  bool Consume(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  static bool IsDigit(char c) { return c >= '0' && c <= '9'; }

  Result<Value> ReadNumber() {
    const size_t start = pos_;
    if (text_[pos_] == '-') ++pos_;
    if (pos_ >= text_.size() || !IsDigit(text_[pos_])) return Error("invalid number");
    if (text_[pos_] == '0') {
      ++pos_;
    } else {
      while (pos_ < text_.size() && IsDigit(text_[pos_])) ++pos_;
    }
    if (pos_ < text_.size() && text_[pos_] == '.') {
      ++pos_;
      if (pos_ >= text_.size() || !IsDigit(text_[pos_])) return Error("invalid number");
      while (pos_ < text_.size() && IsDigit(text_[pos_])) ++pos_;
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
      if (pos_ >= text_.size() || !IsDigit(text_[pos_])) return Error("invalid number");
      while (pos_ < text_.size() && IsDigit(text_[pos_])) ++pos_;
    }
    auto number = Number::Parse(text_.substr(start, pos_ - start));
    if (!number) return ErrorAt(start, number.error().message);
    if (auto small = number->ToInt64(); small && number->is_integer()) return Value::Int(*small);
    return Value::Num(std::move(*number));
  }

  std::optional<uint32_t> ReadHex4() {
    if (text_.size() - pos_ < 4) return std::nullopt;
    uint32_t value = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = text_[pos_ + static_cast<size_t>(i)];
      value <<= 4;
      if (c >= '0' && c <= '9') {
        value |= static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        value |= static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        value |= static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return std::nullopt;
      }
    }
    pos_ += 4;
    return value;
  }

  size_t Utf8SequenceLength() const { return WellFormedUtf8Length(text_, pos_); }

  Result<std::string> ReadString() {
    ++pos_;  // opening quote
    std::string out;
    for (;;) {
      const size_t run_start = pos_;
      while (pos_ < text_.size()) {
        const auto c = static_cast<unsigned char>(text_[pos_]);
        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
        ++pos_;
      }
      out.append(text_.substr(run_start, pos_ - run_start));
      if (pos_ >= text_.size()) return Error("unterminated string");
      const auto c = static_cast<unsigned char>(text_[pos_]);
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (c < 0x20) return Error("control character in string");
      if (c >= 0x80) {
        const size_t length = Utf8SequenceLength();
        if (length == 0) return Error("invalid UTF-8 in string");
        out.append(text_.substr(pos_, length));
        pos_ += length;
        continue;
      }
      // Escape sequence.
      const size_t escape_start = pos_;
      ++pos_;
      if (pos_ >= text_.size()) return Error("unterminated string");
      const char e = text_[pos_++];
      switch (e) {
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case '/': out.push_back('/'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': {
          auto unit = ReadHex4();
          if (!unit) return ErrorAt(escape_start, "invalid \\u escape");
          uint32_t cp = *unit;
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            // A high surrogate needs its low half; alone it becomes U+FFFD, as Go decodes it.
            if (text_.substr(pos_, 2) == "\\u") {
              const size_t saved = pos_;
              pos_ += 2;
              auto low = ReadHex4();
              if (low && *low >= 0xDC00 && *low <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (*low - 0xDC00);
              } else {
                pos_ = saved;
                cp = 0xFFFD;
              }
            } else {
              cp = 0xFFFD;
            }
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            cp = 0xFFFD;
          }
          AppendUtf8(out, cp);
          break;
        }
        default: return ErrorAt(escape_start, "invalid escape sequence");
      }
    }
  }

  std::string_view text_;
  size_t max_depth_;
  bool last_key_wins_;
  size_t pos_ = 0;
};

// ---------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------

void AppendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  size_t run_start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.substr(run_start, i - run_start));
    run_start = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xF]);
    }
  }
  out.append(s.substr(run_start));
  out.push_back('"');
}

void AppendJson(std::string& out, const Value& value, int indent, int depth);

void AppendNewline(std::string& out, int indent, int depth) {
  if (indent <= 0) return;
  out.push_back('\n');
  out.append(static_cast<size_t>(indent * depth), ' ');
}

template <typename Container>
void AppendJsonSequence(std::string& out, const Container& items, int indent, int depth) {
  out.push_back('[');
  bool first = true;
  for (const Value& item : items) {
    if (!first) out.push_back(',');
    first = false;
    AppendNewline(out, indent, depth + 1);
    AppendJson(out, item, indent, depth + 1);
  }
  if (!first) AppendNewline(out, indent, depth);
  out.push_back(']');
}

void AppendJson(std::string& out, const Value& value, int indent, int depth) {
  switch (value.kind()) {
    case Kind::kNull: out += "null"; return;
    case Kind::kBool: out += value.as_bool() ? "true" : "false"; return;
    case Kind::kNumber: out += value.as_number().ToString(); return;
    case Kind::kString: AppendJsonString(out, value.as_string()); return;
    case Kind::kArray: AppendJsonSequence(out, value.as_array(), indent, depth); return;
    case Kind::kSet: AppendJsonSequence(out, value.as_set(), indent, depth); return;
    case Kind::kObject: {
      out.push_back('{');
      bool first = true;
      for (const auto& [key, member] : value.as_object()) {
        if (!first) out.push_back(',');
        first = false;
        AppendNewline(out, indent, depth + 1);
        if (key.is_string()) {
          AppendJsonString(out, key.as_string());
        } else {
          AppendJsonString(out, key.ToJson());
        }
        out += indent > 0 ? ": " : ":";
        AppendJson(out, member, indent, depth + 1);
      }
      if (!first) AppendNewline(out, indent, depth);
      out.push_back('}');
      return;
    }
  }
}

// Strings as Go's strconv.Quote writes them (OPA's term syntax): invalid
// UTF-8 bytes as \xNN and the common non-printable runes escaped.
void AppendQuoted(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  const auto hex = [&](uint32_t value, int digits) {
    for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4) out.push_back(kHex[(value >> shift) & 0xF]);
  };
  out.push_back('"');
  for (size_t i = 0; i < s.size();) {
    // Printable ASCII other than the quote and the backslash stays as it is:
    // append such runs at once.
    size_t plain = i;
    while (plain < s.size()) {
      const auto b = static_cast<unsigned char>(s[plain]);
      if (b < 0x20 || b >= 0x7F || b == '"' || b == '\\') break;
      ++plain;
    }
    if (plain > i) {
      out.append(s.substr(i, plain - i));
      i = plain;
      continue;
    }
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const size_t length = WellFormedUtf8Length(s, i);
      if (length == 0) {
        out += "\\x";
        hex(c, 2);
        ++i;
        continue;
      }
      uint32_t rune = c & (length == 2 ? 0x1F : length == 3 ? 0x0F : 0x07);
      for (size_t k = 1; k < length; ++k) rune = (rune << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
      if ((rune >= 0x80 && rune <= 0x9F) || rune == 0xAD || rune == 0x2028 || rune == 0x2029 || rune == 0xFEFF) {
        out += "\\u";
        hex(rune, 4);
      } else {
        out.append(s.substr(i, length));
      }
      i += length;
      continue;
    }
    ++i;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\a': out += "\\a"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\v': out += "\\v"; break;
      default:
        if (c < 0x20 || c == 0x7F) {
          out += "\\x";
          hex(c, 2);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

}  // namespace

Result<Value> Value::FromJson(std::string_view json, size_t max_depth) { return JsonReader(json, max_depth).Read(); }

Result<Value> Value::FromJsonLastKeyWins(std::string_view json, size_t max_depth) {
  return JsonReader(json, max_depth, true).Read();
}

std::string Value::ToJson() const {
  std::string out;
  AppendJson(out, *this, 0, 0);
  return out;
}

std::string Value::ToPrettyJson() const {
  std::string out;
  AppendJson(out, *this, 2, 0);
  return out;
}

std::string Value::ToRegoString(bool bare_strings) const {
  std::string out;
  AppendRego(out, bare_strings);
  return out;
}

void Value::AppendRego(std::string& out, bool bare_strings) const {
  switch (kind()) {
    case Kind::kString:
      if (bare_strings) {
        out += as_string();
      } else {
        AppendQuoted(out, as_string());
      }
      return;
    case Kind::kArray:
    case Kind::kSet:
    case Kind::kObject:
      AppendRegoCollection(out, *this, [](std::string& text, const Value& element) { element.AppendRego(text); });
      return;
    default: AppendJson(out, *this, 0, 0); return;
  }
}

}  // namespace contrast::policy::rego
