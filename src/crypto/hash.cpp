#include "crypto/hash.h"

#include <openssl/evp.h>

#include <cstdlib>

namespace contrast::crypto {
namespace {

template <size_t N>
std::array<uint8_t, N> Digest(const EVP_MD* md, ByteView data) {
  std::array<uint8_t, N> out{};
  unsigned int len = 0;
  // EVP_Digest with a built-in algorithm only fails on allocation failure.
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, md, nullptr) != 1 || len != N) std::abort();
  return out;
}

}  // namespace

Sha256Digest Sha256(ByteView data) { return Digest<32>(EVP_sha256(), data); }
Sha384Digest Sha384(ByteView data) { return Digest<48>(EVP_sha384(), data); }
Sha512Digest Sha512(ByteView data) { return Digest<64>(EVP_sha512(), data); }

}  // namespace contrast::crypto
