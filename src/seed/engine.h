// The Coordinator's seed and everything derived from it (DESIGN.md section 7,
// issue #14). One 64-byte seed and a 32-byte salt are drawn at the first
// manifest; every durable secret follows from them, so a Coordinator that is
// given the same seed again (recovery) has the same keys.
//
//   secret                      HKDF-SHA256(IKM, salt, info), as long as
//                               the seed (64 bytes for a drawn seed)
//   pod-state secret            IKM = seed, info "POD STATE SECRET"
//   history secret              IKM = seed, info "HISTORY SECRET"
//   transaction-signing secret  IKM = seed, info "TRANSACTION SIGNING SECRET"
//   root-CA secret              IKM = seed, info "ROOT CA SEED"
//   workload secret <id>        IKM = pod-state secret,
//                               info "WORKLOAD SECRET ID: <id>"
//   state-sealing key           IKM = history secret,
//                               info "CONTRAST STATE SEALING KEY", 32 bytes
//                               (AES-256-GCM key of sealed.h; ours, not
//                               upstream's)
// The labels (except the sealing key's) and the lengths are upstream
// Contrast's, so a seed derives the same secrets here as there.
//
// EC keys from secrets: DeriveEcP384Key implements C2SP det-keygen for ECDSA
// (https://c2sp.org/det-keygen): HMAC_DRBG(SHA-256) instantiated with the
// secret and the personalization string "det ECDSA key gen P-384", 384-bit
// candidates by bits2int, rejection sampling as FIPS 186-5 A.2.2. This is
// the algorithm of filippo.io/keygen.ECDSA, which upstream uses.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>

#include "common/bytes.h"
#include "common/result.h"
#include "crypto/keys.h"

namespace contrast::seed {

inline constexpr size_t kSeedSize = 64;
inline constexpr size_t kMinSeedSize = 32;
inline constexpr size_t kSaltSize = 32;
inline constexpr size_t kSecretSize = 64;  // of a drawn (64-byte) seed
inline constexpr size_t kSealingKeySize = 32;

// kInvalidArgument, naming the sizes, unless the seed has kMinSeedSize to
// kSeedSize bytes and the salt kSaltSize.
Status CheckSeedAndSalt(ByteView seed, ByteView salt);

// HKDF-SHA256 (RFC 5869, extract then expand). kInvalidArgument when
// `length` is 0 or above 255 * 32, or `info` is over 1024 bytes (older
// OpenSSL 3.0 releases refuse more).
Result<Bytes> HkdfSha256(ByteView ikm, ByteView salt, std::string_view info, size_t length);

// C2SP det-keygen ECDSA on P-384. kInvalidArgument when `secret` is shorter
// than 16 bytes.
Result<crypto::PrivateKey> DeriveEcP384Key(ByteView secret);

// Immutable after construction; secrets are wiped on destruction. Safe to
// share between threads (const methods only).
class SeedEngine {
 public:
  // A fresh random seed (64 bytes) and salt (32 bytes).
  static Result<std::shared_ptr<const SeedEngine>> Generate();
  // From a seed of kMinSeedSize..kSeedSize bytes and a salt of exactly
  // kSaltSize bytes (kInvalidArgument otherwise, naming the sizes).
  static Result<std::shared_ptr<const SeedEngine>> FromSeed(ByteView seed, ByteView salt);

  ~SeedEngine();
  SeedEngine(const SeedEngine&) = delete;
  SeedEngine& operator=(const SeedEngine&) = delete;

  const Bytes& seed() const { return seed_; }  // secret
  const Bytes& salt() const { return salt_; }  // not secret

  // ECDSA P-384, signs transitions/latest.
  const crypto::PrivateKey& history_signing_key() const { return history_signing_key_; }
  // ECDSA P-384, the root CA's key.
  const crypto::PrivateKey& root_ca_key() const { return root_ca_key_; }
  // 32 bytes, the AES-256-GCM key of sealed.h.
  const Bytes& sealing_key() const { return sealing_key_; }
  // The secret for `workload_secret_id` (non-empty), as long as the seed: 64
  // bytes for a drawn seed. kInvalidArgument for an empty ID or one over
  // 1004 bytes (the HKDF info limit).
  Result<Bytes> WorkloadSecret(std::string_view workload_secret_id) const;

 private:
  SeedEngine(Bytes seed, Bytes salt, Bytes pod_state_secret, Bytes sealing_key, crypto::PrivateKey history_signing_key,
             crypto::PrivateKey root_ca_key);

  Bytes seed_;
  Bytes salt_;
  Bytes pod_state_secret_;
  Bytes sealing_key_;
  crypto::PrivateKey history_signing_key_;
  crypto::PrivateKey root_ca_key_;
};

}  // namespace contrast::seed
