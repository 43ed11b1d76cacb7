#include "seed/engine.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include <array>
#include <initializer_list>
#include <string>

namespace contrast::seed {
namespace {

using crypto::OpensslError;
using crypto::Owned;
using KdfPtr = Owned<EVP_KDF, EVP_KDF_free>;
using KdfCtxPtr = Owned<EVP_KDF_CTX, EVP_KDF_CTX_free>;
using MacPtr = Owned<EVP_MAC, EVP_MAC_free>;
using MacCtxPtr = Owned<EVP_MAC_CTX, EVP_MAC_CTX_free>;

constexpr size_t kHashSize = 32;
// Older OpenSSL 3.0 releases refuse longer HKDF info strings (3.0.19 takes
// 32 KiB); one limit everywhere keeps a workload secret ID portable.
constexpr size_t kMaxHkdfInfo = 1024;

constexpr std::string_view kPodStateLabel = "POD STATE SECRET";
constexpr std::string_view kHistoryLabel = "HISTORY SECRET";
constexpr std::string_view kTransactionSigningLabel = "TRANSACTION SIGNING SECRET";
constexpr std::string_view kRootCaLabel = "ROOT CA SEED";
constexpr std::string_view kWorkloadSecretPrefix = "WORKLOAD SECRET ID: ";
constexpr std::string_view kSealingKeyLabel = "CONTRAST STATE SEALING KEY";

// The personalization string c2sp.org/det-keygen fixes for P-384.
constexpr std::string_view kDetKeygenP384 = "det ECDSA key gen P-384";

void Wipe(Bytes& secret) {
  if (!secret.empty()) OPENSSL_cleanse(secret.data(), secret.size());
  secret.clear();
}

template <size_t N>
void Wipe(std::array<uint8_t, N>& secret) {
  OPENSSL_cleanse(secret.data(), secret.size());
}

// HMAC-SHA256 as the DRBG of det-keygen uses it: one key, a message given in
// parts (so that V || 0x00 || seed || personalization needs no copy).
class HmacSha256 {
 public:
  static Result<HmacSha256> Create() {
    MacPtr mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
    if (!mac) return Fail(OpensslError(ErrorCode::kCrypto, "fetching HMAC"));
    return HmacSha256(std::move(mac));
  }

  Status Compute(const std::array<uint8_t, kHashSize>& key, std::initializer_list<ByteView> parts,
                 std::array<uint8_t, kHashSize>& out) const {
    MacCtxPtr ctx(EVP_MAC_CTX_new(mac_.get()));
    if (!ctx) return Fail(OpensslError(ErrorCode::kCrypto, "allocating an HMAC context"));
    char digest[] = "SHA256";
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                                 OSSL_PARAM_construct_end()};
    if (EVP_MAC_init(ctx.get(), key.data(), key.size(), params) != 1) {
      return Fail(OpensslError(ErrorCode::kCrypto, "HMAC init"));
    }
    for (ByteView part : parts) {
      if (!part.empty() && EVP_MAC_update(ctx.get(), part.data(), part.size()) != 1) {
        return Fail(OpensslError(ErrorCode::kCrypto, "HMAC update"));
      }
    }
    size_t length = 0;
    if (EVP_MAC_final(ctx.get(), out.data(), &length, out.size()) != 1 || length != out.size()) {
      return Fail(OpensslError(ErrorCode::kCrypto, "HMAC final"));
    }
    return {};
  }

 private:
  explicit HmacSha256(MacPtr mac) : mac_(std::move(mac)) {}
  MacPtr mac_;
};

// HMAC_DRBG (SP 800-90A, SHA-256) instantiated and asked once for 48 bytes,
// exactly as c2sp.org/det-keygen steps 2-9 do for P-384. The candidate is the
// leftmost 384 bits, which is bits2int for a 384-bit order.
Status DetKeygenCandidateP384(ByteView secret, std::array<uint8_t, 48>& candidate) {
  auto hmac = HmacSha256::Create();
  if (!hmac) return Fail(hmac.error());
  std::array<uint8_t, kHashSize> k{};
  std::array<uint8_t, kHashSize> v{};
  v.fill(0x01);
  const uint8_t zero = 0x00;
  const uint8_t one = 0x01;
  const ByteView personalization = AsBytes(kDetKeygenP384);
  Status ok = hmac->Compute(k, {v, ByteView(&zero, 1), secret, personalization}, k);
  if (ok) ok = hmac->Compute(k, {v}, v);
  if (ok) ok = hmac->Compute(k, {v, ByteView(&one, 1), secret, personalization}, k);
  if (ok) ok = hmac->Compute(k, {v}, v);
  size_t filled = 0;
  while (ok && filled < candidate.size()) {
    ok = hmac->Compute(k, {v}, v);
    const size_t take = std::min(v.size(), candidate.size() - filled);
    std::copy_n(v.begin(), take, candidate.begin() + static_cast<std::ptrdiff_t>(filled));
    filled += take;
  }
  Wipe(k);
  Wipe(v);
  return ok;
}

}  // namespace

Result<Bytes> HkdfSha256(ByteView ikm, ByteView salt, std::string_view info, size_t length) {
  if (length == 0 || length > 255 * kHashSize) {
    return Fail(ErrorCode::kInvalidArgument, "HKDF-SHA256 output of " + std::to_string(length) +
                                                 " bytes, expected 1 to " + std::to_string(255 * kHashSize));
  }
  if (info.size() > kMaxHkdfInfo) {
    return Fail(ErrorCode::kInvalidArgument, "HKDF info of " + std::to_string(info.size()) + " bytes, at most " +
                                                 std::to_string(kMaxHkdfInfo) + " are supported");
  }
  KdfPtr kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
  if (!kdf) return Fail(OpensslError(ErrorCode::kCrypto, "fetching HKDF"));
  KdfCtxPtr ctx(EVP_KDF_CTX_new(kdf.get()));
  if (!ctx) return Fail(OpensslError(ErrorCode::kCrypto, "allocating an HKDF context"));
  // OSSL_PARAM wants mutable pointers; OpenSSL only reads them here.
  char digest[] = "SHA256";
  std::array<OSSL_PARAM, 5> params{};
  size_t n = 0;
  params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
  params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<uint8_t*>(ikm.data()), ikm.size());
  // An absent salt is HashLen zero bytes (RFC 5869 2.2), which is what
  // OpenSSL does when the parameter is not given.
  if (!salt.empty()) {
    params[n++] =
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<uint8_t*>(salt.data()), salt.size());
  }
  if (!info.empty()) {
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<char*>(info.data()), info.size());
  }
  params[n] = OSSL_PARAM_construct_end();
  Bytes out(length);
  if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params.data()) != 1) {
    Wipe(out);
    return Fail(OpensslError(ErrorCode::kCrypto, "HKDF-SHA256 derivation"));
  }
  return out;
}

Result<crypto::PrivateKey> DeriveEcP384Key(ByteView secret) {
  if (secret.size() < 16) {
    return Fail(ErrorCode::kInvalidArgument, "deterministic key generation needs a secret of at least 16 bytes, got " +
                                                 std::to_string(secret.size()));
  }
  std::array<uint8_t, 48> candidate{};
  if (auto ok = DetKeygenCandidateP384(secret, candidate); !ok) {
    Wipe(candidate);
    return Fail(ok.error().Wrap("det-keygen P-384"));
  }
  auto key = crypto::PrivateKey::FromEcP384Scalar(candidate);
  Wipe(candidate);
  if (!key && key.error().code == ErrorCode::kInvalidArgument) {
    // Zero or at least n: det-keygen step 12, a fatal error with a chance of
    // about 2^-194 for P-384, so rather a sign of a fault than bad luck.
    return Fail(ErrorCode::kInternal, "det-keygen P-384 drew a scalar out of range (step 12)");
  }
  return key;
}

Result<std::shared_ptr<const SeedEngine>> SeedEngine::Generate() {
  Bytes seed(kSeedSize);
  Bytes salt(kSaltSize);
  if (RAND_bytes(seed.data(), static_cast<int>(seed.size())) != 1 ||
      RAND_bytes(salt.data(), static_cast<int>(salt.size())) != 1) {
    Wipe(seed);
    return Fail(OpensslError(ErrorCode::kCrypto, "drawing a random seed"));
  }
  auto engine = FromSeed(seed, salt);
  Wipe(seed);
  return engine;
}

Status CheckSeedAndSalt(ByteView seed, ByteView salt) {
  if (seed.size() < kMinSeedSize || seed.size() > kSeedSize) {
    return Fail(ErrorCode::kInvalidArgument, "a seed of " + std::to_string(seed.size()) + " bytes, expected " +
                                                 std::to_string(kMinSeedSize) + " to " + std::to_string(kSeedSize));
  }
  if (salt.size() != kSaltSize) {
    return Fail(ErrorCode::kInvalidArgument,
                "a salt of " + std::to_string(salt.size()) + " bytes, expected " + std::to_string(kSaltSize));
  }
  return {};
}

Result<std::shared_ptr<const SeedEngine>> SeedEngine::FromSeed(ByteView seed, ByteView salt) {
  if (auto ok = CheckSeedAndSalt(seed, salt); !ok) return Fail(ok.error());
  // Upstream derives secrets as long as the seed they come from (64 bytes for
  // every seed Generate draws); doing the same keeps the secrets compatible.
  const size_t secret_size = seed.size();
  auto pod_state = HkdfSha256(seed, salt, kPodStateLabel, secret_size);
  auto history = HkdfSha256(seed, salt, kHistoryLabel, secret_size);
  auto signing = HkdfSha256(seed, salt, kTransactionSigningLabel, secret_size);
  auto root_ca = HkdfSha256(seed, salt, kRootCaLabel, secret_size);
  Result<Bytes> sealing = history ? HkdfSha256(*history, salt, kSealingKeyLabel, kSealingKeySize)
                                  : Result<Bytes>(tl::unexpect, history.error());
  Result<crypto::PrivateKey> signing_key =
      signing ? DeriveEcP384Key(*signing) : Result<crypto::PrivateKey>(tl::unexpect, signing.error());
  Result<crypto::PrivateKey> root_ca_key =
      root_ca ? DeriveEcP384Key(*root_ca) : Result<crypto::PrivateKey>(tl::unexpect, root_ca.error());
  for (Result<Bytes>* secret : {&history, &signing, &root_ca}) {
    if (*secret) Wipe(**secret);
  }
  const Error* failure = !pod_state     ? &pod_state.error()
                         : !sealing     ? &sealing.error()
                         : !signing_key ? &signing_key.error()
                         : !root_ca_key ? &root_ca_key.error()
                                        : nullptr;
  if (failure != nullptr) {
    Error error = failure->Wrap("deriving the Coordinator's keys from the seed");
    if (pod_state) Wipe(*pod_state);
    if (sealing) Wipe(*sealing);
    return Fail(std::move(error));
  }
  return std::shared_ptr<const SeedEngine>(
      new SeedEngine(Bytes(seed.begin(), seed.end()), Bytes(salt.begin(), salt.end()), std::move(*pod_state),
                     std::move(*sealing), std::move(*signing_key), std::move(*root_ca_key)));
}

SeedEngine::SeedEngine(Bytes seed, Bytes salt, Bytes pod_state_secret, Bytes sealing_key,
                       crypto::PrivateKey history_signing_key, crypto::PrivateKey root_ca_key)
    : seed_(std::move(seed)),
      salt_(std::move(salt)),
      pod_state_secret_(std::move(pod_state_secret)),
      sealing_key_(std::move(sealing_key)),
      history_signing_key_(std::move(history_signing_key)),
      root_ca_key_(std::move(root_ca_key)) {}

SeedEngine::~SeedEngine() {
  Wipe(seed_);
  Wipe(pod_state_secret_);
  Wipe(sealing_key_);
}

Result<Bytes> SeedEngine::WorkloadSecret(std::string_view workload_secret_id) const {
  if (workload_secret_id.empty()) {
    return Fail(ErrorCode::kInvalidArgument, "a workload secret needs a non-empty WorkloadSecretID");
  }
  std::string info(kWorkloadSecretPrefix);
  info += workload_secret_id;
  return HkdfSha256(pod_state_secret_, salt_, info, pod_state_secret_.size());
}

}  // namespace contrast::seed
