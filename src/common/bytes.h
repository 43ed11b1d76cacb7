// Byte buffers and the encodings we move them through (hex, base64).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace contrast {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;

inline ByteView AsBytes(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }
inline std::string_view AsChars(ByteView b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

// Lower-case hex without separators.
std::string HexEncode(ByteView data);
// Accepts upper and lower case; rejects odd lengths and non-hex characters.
Result<Bytes> HexDecode(std::string_view hex);

// RFC 4648 standard alphabet with padding.
std::string Base64Encode(ByteView data);
// Strict: rejects characters outside the alphabet, bad padding and
// non-canonical trailing bits.
Result<Bytes> Base64Decode(std::string_view text);

// Constant-time comparison for secrets and digests.
bool ConstantTimeEqual(ByteView a, ByteView b);

}  // namespace contrast
