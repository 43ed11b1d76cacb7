#include "history/history.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/files.h"
#include "crypto/signature.h"
#include "crypto/x509_builder.h"
#include "history/directory_store.h"
#include "support/memory_store.h"

namespace contrast::history {
namespace {

namespace fs = std::filesystem;

using ::testing::HasSubstr;

Bytes B(std::string_view s) { return Bytes(s.begin(), s.end()); }

crypto::PrivateKey NewKey() {
  auto key = crypto::PrivateKey::Generate(crypto::KeyType::kEcP384);
  EXPECT_TRUE(key) << key.error().message;
  return std::move(*key);
}

crypto::PrivateKey CopyKey(const crypto::PrivateKey& key) {
  auto copy = crypto::PrivateKey::FromPkcs8Pem(*key.ToPkcs8Pem());
  EXPECT_TRUE(copy) << copy.error().message;
  return std::move(*copy);
}

Bytes SpkiOf(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  const int length = i2d_PUBKEY(key, &der);
  EXPECT_GT(length, 0);
  crypto::OpensslBytesPtr owned(der);
  return Bytes(der, der + length);
}

// ECDSA with `digest` taken as the already-hashed input, as the Coordinator
// signs transitions/latest.
Bytes SignPrehashed(EVP_PKEY* key, const crypto::Sha256Digest& digest) {
  crypto::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  EXPECT_EQ(EVP_PKEY_sign_init(ctx.get()), 1);
  EXPECT_EQ(EVP_PKEY_CTX_set_signature_md(ctx.get(), EVP_sha256()), 1);
  size_t length = 0;
  EXPECT_EQ(EVP_PKEY_sign(ctx.get(), nullptr, &length, digest.data(), digest.size()), 1);
  Bytes signature(length);
  EXPECT_EQ(EVP_PKEY_sign(ctx.get(), signature.data(), &length, digest.data(), digest.size()), 1);
  signature.resize(length);
  return signature;
}

using contrast::testing::MemoryStore;

class HistoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("contrast-history-test-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    auto store = DirectoryStore::Open(dir_);
    ASSERT_TRUE(store) << store.error().message;
    store_ = *store;
  }
  void TearDown() override { fs::remove_all(dir_); }

  History Open(const crypto::PrivateKey& key, HistoryOptions options = {}) {
    auto history = History::Create(store_, CopyKey(key), options);
    EXPECT_TRUE(history) << history.error().message;
    return std::move(*history);
  }

  // Appends three manifests (the first with two policies) and returns the
  // transition hashes.
  std::vector<TransitionHash> AppendThree(History& history) {
    std::vector<TransitionHash> hashes;
    std::optional<TransitionHash> previous;
    for (size_t i = 0; i < manifests_.size(); ++i) {
      auto latest = history.Append(manifests_[i], i == 0 ? policies_ : std::vector<Bytes>{}, previous);
      EXPECT_TRUE(latest) << latest.error().message;
      if (!latest) return hashes;
      hashes.push_back(latest->transition_hash);
      previous = latest->transition_hash;
    }
    return hashes;
  }

  fs::path PathOf(std::string_view prefix, const crypto::Sha256Digest& hash) const {
    return dir_ / (std::string(prefix) + HexEncode(hash));
  }

  fs::path dir_;
  std::shared_ptr<DirectoryStore> store_;
  crypto::PrivateKey key_ = NewKey();
  std::vector<Bytes> manifests_ = {B(R"({"Policies":{},"v":1})"), B(R"({"Policies":{},"v":2})"),
                                   B(R"({"Policies":{},"v":3})")};
  std::vector<Bytes> policies_ = {B("package agent_policy\ndefault allow := true\n"), B("second policy")};
};

TEST_F(HistoryTest, EmptyStoreHasNoHistory) {
  History history = Open(key_);
  EXPECT_FALSE(*history.HasHistory());
  auto latest = history.Latest();
  ASSERT_TRUE(latest) << latest.error().message;
  EXPECT_FALSE(latest->has_value());
  auto walk = history.Walk();
  ASSERT_TRUE(walk) << walk.error().message;
  EXPECT_TRUE(walk->empty());
}

TEST_F(HistoryTest, WalkReturnsManifestsOldestFirstWithLinks) {
  History history = Open(key_);
  const auto hashes = AppendThree(history);
  ASSERT_EQ(hashes.size(), 3u);

  auto walk = history.Walk();
  ASSERT_TRUE(walk) << walk.error().message;
  ASSERT_EQ(walk->size(), 3u);
  TransitionHash previous = kNoPreviousTransition;
  for (size_t i = 0; i < 3; ++i) {
    const HistoryEntry& entry = (*walk)[i];
    EXPECT_EQ(entry.manifest, manifests_[i]);
    EXPECT_EQ(entry.transition.manifest_hash, crypto::Sha256(manifests_[i]));
    EXPECT_EQ(entry.transition.previous_transition_hash, previous);
    EXPECT_EQ(entry.transition_hash, hashes[i]);
    EXPECT_EQ(entry.transition_hash, ComputeTransitionHash(crypto::Sha256(manifests_[i]), previous));
    previous = entry.transition_hash;
  }

  auto latest = history.Latest();
  ASSERT_TRUE(latest && latest->has_value());
  EXPECT_EQ((*latest)->transition_hash, hashes[2]);
  for (const Bytes& policy : policies_) {
    auto stored = history.GetPolicy(crypto::Sha256(policy));
    ASSERT_TRUE(stored) << stored.error().message;
    EXPECT_EQ(*stored, policy);
  }
  // The on-disk layout is the documented one.
  EXPECT_TRUE(fs::exists(PathOf("manifests/", crypto::Sha256(manifests_[0]))));
  EXPECT_TRUE(fs::exists(PathOf("policies/", crypto::Sha256(policies_[1]))));
  EXPECT_EQ(*ReadFile(PathOf("transitions/", hashes[1])),
            (Transition{crypto::Sha256(manifests_[1]), hashes[0]}.Encode()));
  EXPECT_EQ(*ReadFile(dir_ / "transitions/latest"), (*latest)->Encode());
}

TEST_F(HistoryTest, LatestSignatureIsEcdsaSha256OverTheTransitionRecord) {
  History history = Open(key_);
  const auto hashes = AppendThree(history);
  const Bytes record = *ReadFile(dir_ / "transitions/latest");
  ASSERT_GT(record.size(), 32u);
  EXPECT_TRUE(std::equal(hashes[2].begin(), hashes[2].end(), record.begin()));
  const Bytes signature(record.begin() + 32, record.end());
  // Signing T as the digest is ECDSA-with-SHA-256 over the 64-byte record
  // whose hash T is, and the signature is plain DER.
  const Bytes transition = *ReadFile(PathOf("transitions/", hashes[2]));
  EXPECT_TRUE(crypto::VerifyEcdsaDer(key_.get(), crypto::DigestAlgorithm::kSha256, transition, signature));
}

TEST_F(HistoryTest, ReopenedHistoryWithTheSameKeySeesTheSameHistory) {
  std::vector<HistoryEntry> before;
  {
    History history = Open(key_);
    AppendThree(history);
    before = *history.Walk();
  }
  auto reopened_store = DirectoryStore::Open(dir_);
  ASSERT_TRUE(reopened_store);
  auto reopened = History::Create(*reopened_store, CopyKey(key_));
  ASSERT_TRUE(reopened);
  auto after = reopened->Walk();
  ASSERT_TRUE(after) << after.error().message;
  ASSERT_EQ(after->size(), before.size());
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ((*after)[i].transition_hash, before[i].transition_hash);
    EXPECT_EQ((*after)[i].manifest, before[i].manifest);
  }

  // A verification-only reader with the public key sees it too.
  auto reader = HistoryReader::Create(*reopened_store, *key_.PublicKeyDer());
  ASSERT_TRUE(reader) << reader.error().message;
  auto read = reader->Walk();
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_EQ(read->size(), 3u);

  // And the history continues from where it was.
  auto next = reopened->Append(B("{\"v\":4}"), {}, before.back().transition_hash);
  ASSERT_TRUE(next) << next.error().message;
  EXPECT_EQ(reader->Walk()->size(), 4u);
}

TEST_F(HistoryTest, AnotherKeySeesHistoryItCannotVerify) {
  {
    History history = Open(key_);
    AppendThree(history);
  }
  History other = Open(NewKey());
  auto has = other.HasHistory();
  ASSERT_TRUE(has);
  EXPECT_TRUE(*has);
  auto latest = other.Latest();
  ASSERT_FALSE(latest);
  EXPECT_EQ(latest.error().code, ErrorCode::kSignatureInvalid);
  EXPECT_NE(latest.error().message.find("recovery is needed"), std::string::npos) << latest.error().message;
  auto walk = other.Walk();
  ASSERT_FALSE(walk);
  EXPECT_EQ(walk.error().code, ErrorCode::kSignatureInvalid);
  // It can still read the pointer for recovery, but not extend the history.
  auto unverified = other.LatestUnverified();
  ASSERT_TRUE(unverified && unverified->has_value());
  auto appended = other.Append(B("{}"), {}, (*unverified)->transition_hash);
  ASSERT_FALSE(appended);
  EXPECT_EQ(appended.error().code, ErrorCode::kSignatureInvalid);
  EXPECT_FALSE(IsConcurrentUpdate(appended.error()));
}

TEST_F(HistoryTest, TamperedManifestIsAHashMismatch) {
  History history = Open(key_);
  AppendThree(history);
  ASSERT_TRUE(WriteFileAtomic(PathOf("manifests/", crypto::Sha256(manifests_[1])), std::string_view("{\"v\":666}")));
  auto walk = history.Walk();
  ASSERT_FALSE(walk);
  EXPECT_EQ(walk.error().code, ErrorCode::kValidationFailed);
  EXPECT_NE(walk.error().message.find("hash mismatch"), std::string::npos) << walk.error().message;
  auto manifest = history.GetManifest(crypto::Sha256(manifests_[1]));
  ASSERT_FALSE(manifest);
  EXPECT_EQ(manifest.error().code, ErrorCode::kValidationFailed);
}

TEST_F(HistoryTest, TamperedPolicyIsAHashMismatchAndMissingIsNotFound) {
  History history = Open(key_);
  AppendThree(history);
  ASSERT_TRUE(WriteFileAtomic(PathOf("policies/", crypto::Sha256(policies_[0])), std::string_view("allow all")));
  auto tampered = history.GetPolicy(crypto::Sha256(policies_[0]));
  ASSERT_FALSE(tampered);
  EXPECT_EQ(tampered.error().code, ErrorCode::kValidationFailed);
  auto missing = history.GetPolicy(crypto::Sha256(B("never stored")));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TEST_F(HistoryTest, MissingManifestFailsTheWalk) {
  History history = Open(key_);
  AppendThree(history);
  fs::remove(PathOf("manifests/", crypto::Sha256(manifests_[0])));
  auto walk = history.Walk();
  ASSERT_FALSE(walk);
  EXPECT_EQ(walk.error().code, ErrorCode::kNotFound);
}

TEST_F(HistoryTest, TamperedLatestSignatureFails) {
  History history = Open(key_);
  AppendThree(history);
  Bytes record = *ReadFile(dir_ / "transitions/latest");
  record.back() ^= 0x01;
  ASSERT_TRUE(WriteFileAtomic(dir_ / "transitions/latest", record));
  auto latest = history.Latest();
  ASSERT_FALSE(latest);
  EXPECT_EQ(latest.error().code, ErrorCode::kSignatureInvalid);
  EXPECT_FALSE(history.Walk());
}

TEST_F(HistoryTest, LatestPointingElsewhereFails) {
  History history = Open(key_);
  const auto hashes = AppendThree(history);
  // Point back at an older transition, keeping the newest signature.
  Bytes record = *ReadFile(dir_ / "transitions/latest");
  std::copy(hashes[0].begin(), hashes[0].end(), record.begin());
  ASSERT_TRUE(WriteFileAtomic(dir_ / "transitions/latest", record));
  auto latest = history.Latest();
  ASSERT_FALSE(latest);
  EXPECT_EQ(latest.error().code, ErrorCode::kSignatureInvalid);
}

TEST_F(HistoryTest, SwappedTransitionFileFails) {
  History history = Open(key_);
  const auto hashes = AppendThree(history);
  ASSERT_TRUE(WriteFileAtomic(PathOf("transitions/", hashes[1]), *ReadFile(PathOf("transitions/", hashes[0]))));
  auto walk = history.Walk();
  ASSERT_FALSE(walk);
  EXPECT_EQ(walk.error().code, ErrorCode::kValidationFailed);
  EXPECT_NE(walk.error().message.find("hash mismatch"), std::string::npos) << walk.error().message;
}

TEST_F(HistoryTest, SelfReferencingTransitionIsAnErrorNotAHang) {
  History history = Open(key_);
  const auto hashes = AppendThree(history);
  // transitions/<T3> now claims T3 as its own predecessor.
  const Bytes cyclic = Transition{crypto::Sha256(manifests_[2]), hashes[2]}.Encode();
  ASSERT_TRUE(WriteFileAtomic(PathOf("transitions/", hashes[2]), cyclic));
  auto walk = history.Walk();
  ASSERT_FALSE(walk);
  EXPECT_EQ(walk.error().code, ErrorCode::kValidationFailed);
}

TEST_F(HistoryTest, ChainLongerThanTheLimitIsRefused) {
  History history = Open(key_, HistoryOptions{.max_chain_length = 2});
  AppendThree(history);
  auto walk = history.Walk();
  ASSERT_FALSE(walk);
  EXPECT_EQ(walk.error().code, ErrorCode::kValidationFailed);
  EXPECT_NE(walk.error().message.find("more than 2"), std::string::npos) << walk.error().message;
  History roomy = Open(key_, HistoryOptions{.max_chain_length = 3});
  EXPECT_TRUE(roomy.Walk());
}

TEST_F(HistoryTest, DefaultLimitStopsAnOverlyLongChain) {
  // kDefaultMaxChainLength + 1 valid, signed transitions in memory.
  auto store = std::make_shared<MemoryStore>();
  const Bytes manifest = B("{}");
  ASSERT_TRUE(store->Set("manifests/" + HexEncode(crypto::Sha256(manifest)), manifest));
  TransitionHash previous = kNoPreviousTransition;
  for (size_t i = 0; i <= kDefaultMaxChainLength; ++i) {
    const Transition transition{crypto::Sha256(manifest), previous};
    previous = transition.Hash();
    ASSERT_TRUE(store->Set("transitions/" + HexEncode(previous), transition.Encode()));
  }
  LatestTransition latest{previous, SignPrehashed(key_.get(), previous)};
  ASSERT_TRUE(store->Set(kLatestKey, latest.Encode()));
  auto history = History::Create(store, CopyKey(key_));
  ASSERT_TRUE(history);
  ASSERT_TRUE(history->Latest());
  auto walk = history->Walk();
  ASSERT_FALSE(walk);
  EXPECT_EQ(walk.error().code, ErrorCode::kValidationFailed);
}

TEST_F(HistoryTest, TruncatedLatestIsAClearParseError) {
  History history = Open(key_);
  AppendThree(history);
  const Bytes record = *ReadFile(dir_ / "transitions/latest");
  for (size_t length : {size_t{0}, size_t{10}, size_t{32}}) {
    ASSERT_TRUE(WriteFileAtomic(dir_ / "transitions/latest", ByteView(record).first(length)));
    EXPECT_TRUE(*history.HasHistory());
    auto latest = history.Latest();
    ASSERT_FALSE(latest);
    EXPECT_EQ(latest.error().code, ErrorCode::kParse);
    EXPECT_NE(latest.error().message.find("transitions/latest is " + std::to_string(length) + " bytes"),
              std::string::npos)
        << latest.error().message;
  }
  // A record cut inside the signature is malformed DER: not authentic.
  ASSERT_TRUE(WriteFileAtomic(dir_ / "transitions/latest", ByteView(record).first(record.size() - 5)));
  auto cut = history.Latest();
  ASSERT_FALSE(cut);
  EXPECT_EQ(cut.error().code, ErrorCode::kSignatureInvalid);
  // And an oversized one is refused before any crypto.
  Bytes huge = record;
  huge.resize(32 + kMaxLatestSignatureSize + 1, 0);
  ASSERT_TRUE(WriteFileAtomic(dir_ / "transitions/latest", huge));
  EXPECT_EQ(history.Latest().error().code, ErrorCode::kParse);
}

TEST_F(HistoryTest, AppendFromAStaleViewIsAConcurrentUpdate) {
  History history = Open(key_);
  auto first = history.Append(manifests_[0], {}, std::nullopt);
  ASSERT_TRUE(first) << first.error().message;

  // Expecting "no history" when there is one.
  for (const std::optional<TransitionHash>& stale :
       {std::optional<TransitionHash>(), std::optional(kNoPreviousTransition),
        std::optional(crypto::Sha256(B("elsewhere")))}) {
    auto appended = history.Append(manifests_[1], {}, stale);
    ASSERT_FALSE(appended);
    EXPECT_TRUE(IsConcurrentUpdate(appended.error())) << appended.error().message;
    // Told apart by its code, not by searching the message.
    EXPECT_EQ(appended.error().code, ErrorCode::kConflict);
    EXPECT_FALSE(IsConcurrentUpdate(Error{ErrorCode::kInvalidArgument, appended.error().message}));
    EXPECT_NE(appended.error().message.find(HexEncode(first->transition_hash)), std::string::npos);
  }
  EXPECT_EQ((*history.Latest())->transition_hash, first->transition_hash);

  // Expecting a transition when there is none.
  fs::remove(dir_ / "transitions/latest");
  auto on_empty = history.Append(manifests_[1], {}, first->transition_hash);
  ASSERT_FALSE(on_empty);
  EXPECT_TRUE(IsConcurrentUpdate(on_empty.error()));
  // The all-zero hash means "no history" as well.
  EXPECT_TRUE(history.Append(manifests_[1], {}, kNoPreviousTransition));
}

TEST_F(HistoryTest, ConcurrentAppendsFromThreadsExactlyOneWins) {
  History history = Open(key_);
  auto base = history.Append(manifests_[0], {}, std::nullopt);
  ASSERT_TRUE(base);
  constexpr int kThreads = 8;
  std::atomic<int> wins{0};
  std::atomic<int> conflicts{0};
  std::atomic<int> others{0};
  std::vector<std::thread> threads;
  std::vector<Bytes> candidates;
  for (int i = 0; i < kThreads; ++i) candidates.push_back(B("{\"thread\":" + std::to_string(i) + "}"));
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      auto appended = history.Append(candidates[static_cast<size_t>(i)], {}, base->transition_hash);
      if (appended) {
        ++wins;
      } else if (IsConcurrentUpdate(appended.error())) {
        ++conflicts;
      } else {
        ++others;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wins.load(), 1);
  EXPECT_EQ(conflicts.load(), kThreads - 1);
  EXPECT_EQ(others.load(), 0);
  auto walk = history.Walk();
  ASSERT_TRUE(walk) << walk.error().message;
  ASSERT_EQ(walk->size(), 2u);
  EXPECT_NE(std::find(candidates.begin(), candidates.end(), (*walk)[1].manifest), candidates.end());
}

TEST_F(HistoryTest, ConcurrentAppendsFromProcessesExactlyOneWins) {
  History history = Open(key_);
  auto base = history.Append(manifests_[0], {}, std::nullopt);
  ASSERT_TRUE(base);
  const std::string pem = *key_.ToPkcs8Pem();
  int gate[2];
  ASSERT_EQ(::pipe(gate), 0);
  constexpr int kProcesses = 4;
  std::vector<pid_t> children;
  for (int i = 0; i < kProcesses; ++i) {
    const pid_t pid = ::fork();
    if (pid < 0) {
      ADD_FAILURE() << "fork failed";
      break;  // still open the gate below so started children finish
    }
    if (pid == 0) {
      // Child: its own store and History on the same directory; wait until the
      // parent opens the gate (closes the write end), then race.
      ::close(gate[1]);
      char byte;
      while (::read(gate[0], &byte, 1) > 0) {
      }
      auto store = DirectoryStore::Open(dir_);
      auto key = crypto::PrivateKey::FromPkcs8Pem(pem);
      if (!store || !key) ::_exit(3);
      auto mine = History::Create(*store, std::move(*key));
      if (!mine) ::_exit(3);
      auto appended = mine->Append(B("{\"process\":" + std::to_string(i) + "}"), {}, base->transition_hash);
      ::_exit(appended ? 0 : (IsConcurrentUpdate(appended.error()) ? 1 : 2));
    }
    children.push_back(pid);
  }
  ::close(gate[0]);
  ::close(gate[1]);
  int wins = 0;
  int conflicts = 0;
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status)) << "child " << pid << " did not exit normally";
    if (WEXITSTATUS(status) == 0) ++wins;
    if (WEXITSTATUS(status) == 1) ++conflicts;
  }
  EXPECT_EQ(wins, 1);
  EXPECT_EQ(conflicts, kProcesses - 1);
  auto walk = history.Walk();
  ASSERT_TRUE(walk) << walk.error().message;
  EXPECT_EQ(walk->size(), 2u);
}

TEST_F(HistoryTest, CreateRejectsUnusableKeys) {
  auto rsa = crypto::PrivateKey::Generate(crypto::KeyType::kRsa2048);
  ASSERT_TRUE(rsa);
  auto history = History::Create(store_, std::move(*rsa));
  ASSERT_FALSE(history);
  EXPECT_EQ(history.error().code, ErrorCode::kInvalidArgument);

  EXPECT_EQ(HistoryReader::Create(store_, B("not a key")).error().code, ErrorCode::kParse);
  crypto::EvpPkeyPtr p256(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  EXPECT_EQ(HistoryReader::Create(store_, SpkiOf(p256.get())).error().code, ErrorCode::kUnsupported);
  EXPECT_EQ(HistoryReader::Create(nullptr, *key_.PublicKeyDer()).error().code, ErrorCode::kInvalidArgument);
}

TEST_F(HistoryTest, AppendRepairsADamagedBlob) {
  History history = Open(key_);
  auto first = history.Append(manifests_[0], policies_, std::nullopt);
  ASSERT_TRUE(first);
  ASSERT_TRUE(WriteFileAtomic(PathOf("policies/", crypto::Sha256(policies_[0])), std::string_view("junk")));
  ASSERT_TRUE(history.Append(manifests_[1], policies_, first->transition_hash));
  EXPECT_EQ(*history.GetPolicy(crypto::Sha256(policies_[0])), policies_[0]);
}

// ---- Transition encoding ------------------------------------------------------

TEST(TransitionTest, HashIsSha256OfManifestHashAndPrevious) {
  const ManifestHash manifest_hash = crypto::Sha256(B("manifest"));
  const TransitionHash previous = crypto::Sha256(B("previous"));
  Bytes concatenated(manifest_hash.begin(), manifest_hash.end());
  concatenated.insert(concatenated.end(), previous.begin(), previous.end());
  EXPECT_EQ(ComputeTransitionHash(manifest_hash, previous), crypto::Sha256(concatenated));

  const Transition transition{manifest_hash, previous};
  EXPECT_EQ(transition.Encode(), concatenated);
  auto parsed = ParseTransition(concatenated);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->manifest_hash, manifest_hash);
  EXPECT_EQ(parsed->previous_transition_hash, previous);
  concatenated.push_back(0);
  EXPECT_EQ(ParseTransition(concatenated).error().code, ErrorCode::kParse);
}

// ---- History pages ----------------------------------------------------------------

TEST_F(HistoryTest, PagesGoBackFromATransitionWithinTheByteBudget) {
  History history = Open(key_);
  const auto hashes = AppendThree(history);
  ASSERT_EQ(hashes.size(), 3u);

  // Everything fits: the latest first, down to the first manifest.
  auto all = ReadHistoryPage(*store_, hashes[2]);
  ASSERT_TRUE(all) << all.error().message;
  ASSERT_EQ(all->entries.size(), 3u);
  EXPECT_FALSE(all->more);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(all->entries[i].manifest, manifests_[2 - i]);
    EXPECT_EQ(all->entries[i].transition_hash, hashes[2 - i]);
  }
  EXPECT_EQ(all->entries.back().transition.previous_transition_hash, kNoPreviousTransition);

  // A budget of one manifest: one entry per page, and where to go on.
  auto one = ReadHistoryPage(*store_, hashes[2], manifests_[2].size());
  ASSERT_TRUE(one) << one.error().message;
  ASSERT_EQ(one->entries.size(), 1u);
  EXPECT_TRUE(one->more);
  EXPECT_EQ(one->entries[0].transition.previous_transition_hash, hashes[1]);
  // A budget below one manifest still returns one.
  auto tiny = ReadHistoryPage(*store_, hashes[1], 1);
  ASSERT_TRUE(tiny);
  ASSERT_EQ(tiny->entries.size(), 1u);
  EXPECT_EQ(tiny->entries[0].manifest, manifests_[1]);
  EXPECT_TRUE(tiny->more);
  auto last = ReadHistoryPage(*store_, hashes[0], 1);
  ASSERT_TRUE(last);
  EXPECT_FALSE(last->more);

  EXPECT_EQ(ReadHistoryPage(*store_, kNoPreviousTransition).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(ReadHistoryPage(*store_, crypto::Sha256(B("unknown"))).error().code, ErrorCode::kNotFound);
}

TEST_F(HistoryTest, PagesCheckWhatTheyRead) {
  History history = Open(key_);
  const auto hashes = AppendThree(history);
  ASSERT_TRUE(WriteFileAtomic(PathOf("manifests/", crypto::Sha256(manifests_[1])), "tampered", 0644));
  auto page = ReadHistoryPage(*store_, hashes[2]);
  ASSERT_FALSE(page);
  EXPECT_EQ(page.error().code, ErrorCode::kValidationFailed);
  EXPECT_THAT(page.error().message, HasSubstr("hash mismatch"));
}

// ---- Owner signatures -----------------------------------------------------------

// A self-signed certificate for `key`, PEM.
std::string SelfSignedPem(const crypto::PrivateKey& key) {
  crypto::CertificateBuilder builder;
  const crypto::DistinguishedName name = {{"CN", "system:coordinator:root"}};
  builder.SetSubject(name).SetIssuer(name).SetSerial({0x01}).SetPublicKey(key).SetValidity(
      Now() - std::chrono::hours(1), Now() + std::chrono::hours(1));
  auto der = builder.SignDer(key);
  if (!der) return "";
  const std::string base64 = Base64Encode(*der);
  std::string pem = "-----BEGIN CERTIFICATE-----\n";
  for (size_t i = 0; i < base64.size(); i += 64) pem += base64.substr(i, 64) + "\n";
  return pem + "-----END CERTIFICATE-----\n";
}

class OwnerSignatureTest : public ::testing::Test {
 protected:
  crypto::PrivateKey owner_ = NewKey();
  Bytes owner_spki_ = *owner_.PublicKeyDer();
  TransitionHash transition_ = ComputeTransitionHash(crypto::Sha256(B("manifest")), kNoPreviousTransition);
  RootKeyDigest root_ = crypto::Sha256(B("root CA key of deployment A"));
};

TEST_F(OwnerSignatureTest, RoundTrip) {
  auto signature = SignTransition(owner_, root_, transition_);
  ASSERT_TRUE(signature) << signature.error().message;
  EXPECT_TRUE(VerifyTransitionSignature(owner_spki_, root_, transition_, *signature));
  // The signed message is the label, the root key digest and the transition,
  // in lower-case hex (what `contrast sign --prepare` writes for an HSM).
  const std::string message = "contrast-manifest-transition-v1 " + HexEncode(root_) + " " + HexEncode(transition_);
  EXPECT_EQ(TransitionSigningMessage(root_, transition_), message);
  EXPECT_EQ(message.size(), 161u);
  EXPECT_TRUE(crypto::VerifyEcdsaDer(owner_.get(), crypto::DigestAlgorithm::kSha256, AsBytes(message), *signature));
}

TEST_F(OwnerSignatureTest, ASignatureForAnotherCoordinatorFails) {
  auto signature = SignTransition(owner_, root_, transition_);
  ASSERT_TRUE(signature);
  const RootKeyDigest other = crypto::Sha256(B("root CA key of deployment B"));
  auto verified = VerifyTransitionSignature(owner_spki_, other, transition_, *signature);
  ASSERT_FALSE(verified);
  EXPECT_EQ(verified.error().code, ErrorCode::kSignatureInvalid);
  EXPECT_THAT(verified.error().message, HasSubstr(HexEncode(other)));
  // The format before the root key was bound (the bare hex of T) no longer
  // authorizes anything.
  const std::string bare = HexEncode(transition_);
  crypto::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  ASSERT_EQ(EVP_DigestSignInit_ex(ctx.get(), nullptr, "SHA256", nullptr, nullptr, owner_.get(), nullptr), 1);
  size_t length = 0;
  ASSERT_EQ(EVP_DigestSign(ctx.get(), nullptr, &length, AsBytes(bare).data(), bare.size()), 1);
  Bytes old(length);
  ASSERT_EQ(EVP_DigestSign(ctx.get(), old.data(), &length, AsBytes(bare).data(), bare.size()), 1);
  old.resize(length);
  EXPECT_FALSE(VerifyTransitionSignature(owner_spki_, root_, transition_, old));
}

TEST_F(OwnerSignatureTest, RootKeyDigestIsSha256OfTheCertificateKeySpki) {
  const crypto::PrivateKey root_key = NewKey();
  const std::string pem = SelfSignedPem(root_key);
  auto digest = RootKeyDigestOfPem(pem);
  ASSERT_TRUE(digest) << digest.error().message;
  EXPECT_EQ(*digest, crypto::Sha256(*root_key.PublicKeyDer()));
  EXPECT_FALSE(RootKeyDigestOfPem("not a certificate"));
}

TEST_F(OwnerSignatureTest, P256KeysVerify) {
  crypto::EvpPkeyPtr p256(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  ASSERT_TRUE(p256);
  const std::string message = TransitionSigningMessage(root_, transition_);
  crypto::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  ASSERT_EQ(EVP_DigestSignInit_ex(ctx.get(), nullptr, "SHA256", nullptr, nullptr, p256.get(), nullptr), 1);
  size_t length = 0;
  ASSERT_EQ(EVP_DigestSign(ctx.get(), nullptr, &length, AsBytes(message).data(), message.size()), 1);
  Bytes signature(length);
  ASSERT_EQ(EVP_DigestSign(ctx.get(), signature.data(), &length, AsBytes(message).data(), message.size()), 1);
  signature.resize(length);
  EXPECT_TRUE(VerifyTransitionSignature(SpkiOf(p256.get()), root_, transition_, signature));
  EXPECT_FALSE(VerifyTransitionSignature(owner_spki_, root_, transition_, signature));
}

TEST_F(OwnerSignatureTest, WrongKeyFails) {
  auto signature = SignTransition(owner_, root_, transition_);
  ASSERT_TRUE(signature);
  const crypto::PrivateKey other = NewKey();
  auto verified = VerifyTransitionSignature(*other.PublicKeyDer(), root_, transition_, *signature);
  ASSERT_FALSE(verified);
  EXPECT_EQ(verified.error().code, ErrorCode::kSignatureInvalid);
}

TEST_F(OwnerSignatureTest, WrongTransitionFails) {
  auto signature = SignTransition(owner_, root_, transition_);
  ASSERT_TRUE(signature);
  TransitionHash other = transition_;
  other[31] ^= 0x01;
  auto verified = VerifyTransitionSignature(owner_spki_, root_, other, *signature);
  ASSERT_FALSE(verified);
  EXPECT_EQ(verified.error().code, ErrorCode::kSignatureInvalid);
}

TEST_F(OwnerSignatureTest, GarbageSignaturesFail) {
  auto signature = SignTransition(owner_, root_, transition_);
  ASSERT_TRUE(signature);
  Bytes flipped = *signature;
  flipped[flipped.size() / 2] ^= 0x40;
  Bytes trailing = *signature;
  trailing.push_back(0);
  for (const Bytes& garbage : {Bytes{}, B("garbage"), Bytes(72, 0x30), flipped, trailing, Bytes(1000, 0x01)}) {
    auto verified = VerifyTransitionSignature(owner_spki_, root_, transition_, garbage);
    ASSERT_FALSE(verified);
    EXPECT_EQ(verified.error().code, ErrorCode::kSignatureInvalid);
  }
}

TEST_F(OwnerSignatureTest, UnusableKeysAreReported) {
  auto signature = SignTransition(owner_, root_, transition_);
  ASSERT_TRUE(signature);
  EXPECT_EQ(VerifyTransitionSignature(B("garbage"), root_, transition_, *signature).error().code, ErrorCode::kParse);
  EXPECT_EQ(VerifyTransitionSignature({}, root_, transition_, *signature).error().code, ErrorCode::kParse);
  Bytes trailing = owner_spki_;
  trailing.push_back(0);
  EXPECT_EQ(VerifyTransitionSignature(trailing, root_, transition_, *signature).error().code, ErrorCode::kParse);

  auto rsa = crypto::PrivateKey::Generate(crypto::KeyType::kRsa2048);
  ASSERT_TRUE(rsa);
  EXPECT_EQ(VerifyTransitionSignature(*rsa->PublicKeyDer(), root_, transition_, *signature).error().code,
            ErrorCode::kUnsupported);
  EXPECT_EQ(SignTransition(*rsa, root_, transition_).error().code, ErrorCode::kInvalidArgument);
  crypto::EvpPkeyPtr p521(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-521"));
  EXPECT_EQ(VerifyTransitionSignature(SpkiOf(p521.get()), root_, transition_, *signature).error().code,
            ErrorCode::kUnsupported);
}

// ---- DirectoryStore -------------------------------------------------------------

TEST_F(HistoryTest, StoreRejectsInvalidKeys) {
  const std::string hex(64, 'a');
  const std::vector<std::string> bad = {"",
                                        "latest",
                                        "../escape",
                                        "/etc/passwd",
                                        "manifests/../../escape",
                                        "manifests/" + std::string(63, 'a'),
                                        "manifests/" + std::string(65, 'a'),
                                        "manifests/" + std::string(64, 'A'),
                                        "manifests/latest",
                                        "policies/latest",
                                        "transitions/latest/",
                                        "transitions//latest",
                                        "secrets/" + hex,
                                        "manifests/" + hex + "/x",
                                        "manifests/" + std::string(62, 'a') + "\n",
                                        std::string("manifests/") + std::string(63, 'a') + '\0'};
  for (const std::string& key : bad) {
    EXPECT_EQ(store_->Get(key).error().code, ErrorCode::kInvalidArgument) << key;
    EXPECT_EQ(store_->Has(key).error().code, ErrorCode::kInvalidArgument) << key;
    EXPECT_EQ(store_->Set(key, B("x")).error().code, ErrorCode::kInvalidArgument) << key;
    EXPECT_EQ(store_->CompareAndSwap(key, std::nullopt, B("x")).error().code, ErrorCode::kInvalidArgument) << key;
  }
  EXPECT_FALSE(fs::exists(dir_.parent_path() / "escape"));
  for (const std::string& key :
       {"manifests/" + hex, "policies/" + hex, "transitions/" + hex, std::string("transitions/latest")}) {
    EXPECT_TRUE(store_->Set(key, B("x"))) << key;
  }
}

TEST_F(HistoryTest, StoreCompareAndSwapSemantics) {
  const std::string key(kLatestKey);
  EXPECT_FALSE(*store_->Has(key));
  EXPECT_FALSE(store_->Get(key)->has_value());
  const Bytes one = B("one");
  const Bytes two = B("two");
  EXPECT_TRUE(*store_->CompareAndSwap(key, std::nullopt, one));
  EXPECT_FALSE(*store_->CompareAndSwap(key, std::nullopt, two));   // no longer absent
  EXPECT_FALSE(*store_->CompareAndSwap(key, ByteView(two), two));  // wrong old value
  EXPECT_EQ(**store_->Get(key), one);
  EXPECT_TRUE(*store_->CompareAndSwap(key, ByteView(one), two));
  EXPECT_EQ(**store_->Get(key), two);
  EXPECT_TRUE(*store_->Has(key));
  // An empty value is a value, not absence.
  EXPECT_TRUE(*store_->CompareAndSwap(key, ByteView(two), Bytes{}));
  EXPECT_FALSE(*store_->CompareAndSwap(key, std::nullopt, one));
  EXPECT_TRUE(*store_->CompareAndSwap(key, ByteView(Bytes{}), one));
}

TEST_F(HistoryTest, StoreBoundsValueSizes) {
  auto small = DirectoryStore::Open(dir_, DirectoryStoreOptions{.max_value_size = 16});
  ASSERT_TRUE(small);
  const std::string key = "manifests/" + std::string(64, 'b');
  EXPECT_TRUE((*small)->Set(key, Bytes(16, 'x')));
  EXPECT_EQ((*small)->Set(key, Bytes(17, 'x')).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ((*small)->CompareAndSwap(std::string(kLatestKey), std::nullopt, Bytes(17, 'x')).error().code,
            ErrorCode::kInvalidArgument);
  ASSERT_TRUE(WriteFileAtomic(dir_ / key, Bytes(17, 'x')));
  auto read = (*small)->Get(key);
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code, ErrorCode::kParse);
}

TEST_F(HistoryTest, StoreOpenFailsOnAFileInTheWay) {
  const fs::path blocked = dir_ / "blocked";
  fs::create_directories(blocked);
  ASSERT_TRUE(WriteFileAtomic(blocked / "manifests", std::string_view("file")));
  auto store = DirectoryStore::Open(blocked);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, ErrorCode::kIo);
}

}  // namespace
}  // namespace contrast::history
