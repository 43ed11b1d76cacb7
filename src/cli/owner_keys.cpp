#include "cli/owner_keys.h"

#include <openssl/pem.h>

#include <limits>
#include <string>

#include "common/files.h"
#include "crypto/openssl.h"

namespace contrast::cli {
namespace {

constexpr size_t kMaxKeyFileSize = 64 * 1024;
constexpr std::string_view kPublicKeyPem = "-----BEGIN PUBLIC KEY-----";

Result<Bytes> PublicKeyFromPem(std::string_view pem) {
  if (pem.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return Fail(ErrorCode::kParse, "the public key PEM is too large");
  }
  crypto::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return Fail(crypto::OpensslError(ErrorCode::kCrypto, "reading a public key"));
  crypto::EvpPkeyPtr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    crypto::ClearOpensslErrors();
    return Fail(ErrorCode::kParse, "not a PEM public key (\"BEGIN PUBLIC KEY\")");
  }
  if (!EVP_PKEY_is_a(key.get(), "EC")) {
    return Fail(ErrorCode::kUnsupported,
                std::string("a workload owner key must be an EC key, got ") + EVP_PKEY_get0_type_name(key.get()));
  }
  unsigned char* der = nullptr;
  const int length = i2d_PUBKEY(key.get(), &der);
  if (length <= 0) return Fail(crypto::OpensslError(ErrorCode::kCrypto, "encoding a public key"));
  crypto::OpensslBytesPtr owned(der);
  return Bytes(der, der + length);
}

}  // namespace

Result<crypto::PrivateKey> LoadWorkloadOwnerKey(const std::filesystem::path& path) {
  auto pem = ReadTextFile(path, kMaxKeyFileSize);
  if (!pem) return Fail(pem.error().Wrap("workload owner key"));
  auto key = crypto::PrivateKey::FromPkcs8Pem(*pem);
  if (!key) return Fail(key.error().Wrap("workload owner key " + path.string()));
  if (key->type() != crypto::KeyType::kEcP384) {
    return Fail(ErrorCode::kInvalidArgument, "workload owner key " + path.string() + ": must be EC P-384");
  }
  return key;
}

Result<Bytes> LoadWorkloadOwnerPublicKey(const std::filesystem::path& path) {
  auto pem = ReadTextFile(path, kMaxKeyFileSize);
  if (!pem) return Fail(pem.error().Wrap("workload owner key"));
  if (pem->find(kPublicKeyPem) != std::string::npos) {
    auto spki = PublicKeyFromPem(*pem);
    if (!spki) return Fail(spki.error().Wrap("workload owner public key " + path.string()));
    return spki;
  }
  auto key = LoadWorkloadOwnerKey(path);
  if (!key) return Fail(key.error());
  return key->PublicKeyDer();
}

}  // namespace contrast::cli
