// Message digests (one-shot, through EVP).
#pragma once

#include <array>
#include <cstdint>

#include "common/bytes.h"

namespace contrast::crypto {

using Sha256Digest = std::array<uint8_t, 32>;
using Sha384Digest = std::array<uint8_t, 48>;
using Sha512Digest = std::array<uint8_t, 64>;

Sha256Digest Sha256(ByteView data);
Sha384Digest Sha384(ByteView data);
Sha512Digest Sha512(ByteView data);

}  // namespace contrast::crypto
