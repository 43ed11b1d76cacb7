// Fuzz target: records read back from an untrusted history store
// (transitions, transitions/latest), a walk over a store the input controls,
// and workload-owner transition signatures.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>

#include "../tests/support/memory_store.h"
#include "history/history.h"

namespace {

using contrast::Bytes;
using contrast::ByteView;
using namespace contrast::history;

using contrast::testing::MemoryStore;

const contrast::crypto::PrivateKey& SigningKey() {
  static const contrast::crypto::PrivateKey key = [] {
    auto generated = contrast::crypto::PrivateKey::Generate(contrast::crypto::KeyType::kEcP384);
    if (!generated) std::abort();
    return std::move(*generated);
  }();
  return key;
}

// ECDSA with `digest` as the hashed input: how the Coordinator signs
// transitions/latest.
Bytes SignPrehashed(const TransitionHash& digest) {
  using namespace contrast::crypto;
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, SigningKey().get(), nullptr));
  size_t length = 0;
  if (!ctx || EVP_PKEY_sign_init(ctx.get()) != 1 || EVP_PKEY_CTX_set_signature_md(ctx.get(), EVP_sha256()) != 1 ||
      EVP_PKEY_sign(ctx.get(), nullptr, &length, digest.data(), digest.size()) != 1) {
    std::abort();
  }
  Bytes signature(length);
  if (EVP_PKEY_sign(ctx.get(), signature.data(), &length, digest.data(), digest.size()) != 1) std::abort();
  signature.resize(length);
  return signature;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ByteView input(data, size);

  // Parsers: whatever parses encodes back to the same bytes.
  if (auto transition = ParseTransition(input)) {
    const Bytes again = transition->Encode();
    if (!std::equal(again.begin(), again.end(), input.begin(), input.end())) std::abort();
  }
  if (auto latest = ParseLatestRecord(input)) {
    const Bytes again = LatestTransition{latest->transition_hash, latest->signature}.Encode();
    if (!std::equal(again.begin(), again.end(), input.begin(), input.end())) std::abort();
  }

  // The input as transitions/latest of an otherwise empty store.
  auto key_der = SigningKey().PublicKeyDer();
  if (!key_der) std::abort();
  {
    auto store = std::make_shared<MemoryStore>();
    (void)store->Set(kLatestKey, input);
    auto reader = HistoryReader::Create(store, *key_der);
    if (!reader) std::abort();
    (void)reader->HasHistory();
    (void)reader->Latest();
    (void)reader->Walk();
  }

  // A correctly signed latest pointer to a transition record taken from the
  // input, so the walk follows input-chosen links; the rest of the input is
  // stored as a manifest.
  if (size >= kTransitionRecordSize) {
    auto store = std::make_shared<MemoryStore>();
    const ByteView record = input.first(kTransitionRecordSize);
    const ByteView manifest = input.subspan(kTransitionRecordSize);
    const TransitionHash hash = contrast::crypto::Sha256(record);
    (void)store->Set("transitions/" + contrast::HexEncode(hash), record);
    (void)store->Set("manifests/" + contrast::HexEncode(contrast::crypto::Sha256(manifest)), manifest);
    (void)store->Set(kLatestKey, LatestTransition{hash, SignPrehashed(hash)}.Encode());
    auto reader = HistoryReader::Create(store, *key_der);
    if (!reader) std::abort();
    if (!reader->Latest()) std::abort();  // our own signature must verify
    (void)reader->Walk();
    (void)reader->GetTransition(hash);
  }

  // Owner signatures: the input as key and as signature.
  const TransitionHash transition = ComputeTransitionHash(contrast::crypto::Sha256(input), kNoPreviousTransition);
  const contrast::history::RootKeyDigest root_key = contrast::crypto::Sha256(input);
  (void)VerifyTransitionSignature(input, root_key, transition, input);
  (void)VerifyTransitionSignature(*key_der, root_key, transition, input);
  return 0;
}
