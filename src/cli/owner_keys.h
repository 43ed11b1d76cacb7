// Workload owner keys as the CLI reads them: the private key that signs a
// transition (`sign`, `set`), or only its public half (`set --signature`,
// where the signature was made elsewhere, e.g. by an HSM).
#pragma once

#include <filesystem>

#include "common/bytes.h"
#include "common/result.h"
#include "crypto/keys.h"

namespace contrast::cli {

// An unencrypted PKCS#8 PEM EC P-384 private key ("BEGIN PRIVATE KEY").
Result<crypto::PrivateKey> LoadWorkloadOwnerKey(const std::filesystem::path& path);

// The DER SubjectPublicKeyInfo of a workload owner key given as a PKCS#8
// private key PEM or as a public key PEM ("BEGIN PUBLIC KEY"); EC keys only.
Result<Bytes> LoadWorkloadOwnerPublicKey(const std::filesystem::path& path);

}  // namespace contrast::cli
