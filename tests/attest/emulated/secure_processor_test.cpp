#include "attest/emulated/secure_processor.h"

#include <openssl/x509_vfy.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "attest/snp/vcek.h"
#include "attest/snp/verify.h"
#include "common/files.h"
#include "crypto/keys.h"
#include "crypto/x509.h"
#include "crypto/x509_builder.h"

namespace contrast::attest::emulated {
namespace {

using crypto::Certificate;
using snp::Product;

template <typename T>
std::optional<ErrorCode> CodeOf(const Result<T>& result) {
  if (result) return std::nullopt;
  return result.error().code;
}

template <size_t N>
snp::ByteArray<N> Filled(uint8_t value) {
  snp::ByteArray<N> out;
  out.fill(value);
  return out;
}

const Measurement kMeasurement = Filled<48>(0x4D);
const HostData kHostData = Filled<32>(0x48);
const snp::TcbParts kDefaultTcb{.fmc = 0, .bootloader = 3, .tee = 0, .snp = 8, .microcode = 115};

unsigned ModeOf(const std::filesystem::path& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

std::filesystem::path TempDir(const std::string& name) {
  return std::filesystem::temp_directory_path() /
         ("contrast-emulated-sp-test-" + std::to_string(::getpid()) + "-" + name);
}

// Verification now, for `product` (kUnknown: from the report's CPUID).
snp::VerifyOptions OptionsFor(Product product) {
  snp::VerifyOptions options;
  options.product = product;
  options.at = Now();
  return options;
}

// Throws (failing the test) on error: the DER comes from the code under test.
Certificate MustParse(const Bytes& der) {
  auto cert = Certificate::ParseDer(der);
  if (!cert) throw std::runtime_error("cannot parse certificate: " + cert.error().message);
  return *cert;
}

SecureProcessorOptions FastOptions() {
  SecureProcessorOptions options;
  options.ca_key_type_for_test = crypto::KeyType::kRsa2048;
  return options;
}

// One emulator created on disk, on first use, and shared by the tests of the
// process. It uses RSA-2048 CA keys, which generate much faster than
// RSA-4096; SecureProcessorGenoa covers the RSA-4096 default.
class SharedEmulator : public ::testing::Environment {
 public:
  const SecureProcessor* Get() {
    if (!attempted_) {
      attempted_ = true;
      std::filesystem::remove_all(dir_);
      auto created = SecureProcessor::Create(dir_, FastOptions());
      EXPECT_TRUE(created) << created.error().message;
      if (created) sp_.emplace(std::move(*created));
    }
    return sp_ ? &*sp_ : nullptr;
  }
  const std::filesystem::path& dir() const { return dir_; }
  void TearDown() override {
    if (attempted_) std::filesystem::remove_all(dir_);
  }

 private:
  std::filesystem::path dir_ = TempDir("state");
  bool attempted_ = false;
  std::optional<SecureProcessor> sp_;
};

SharedEmulator* const shared = static_cast<SharedEmulator*>(::testing::AddGlobalTestEnvironment(new SharedEmulator));

class SecureProcessorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sp_ = shared->Get();
    ASSERT_NE(sp_, nullptr) << "the shared emulator could not be created";
    dir_ = &shared->dir();
  }

  Bytes Report(ByteView report_data) const {
    auto vm = sp_->RegisterVm(kMeasurement, kHostData);
    EXPECT_TRUE(vm);
    auto report = vm->GetReport(report_data);
    EXPECT_TRUE(report) << (report ? "" : report.error().message);
    return report ? *report : Bytes{};
  }

  static snp::VerifyOptions Options() { return OptionsFor(Product::kMilan); }
  const snp::Verifier& OwnVerifier() {
    if (!verifier_) verifier_.emplace(snp::TrustAnchors{{sp_->TrustAnchor()}});
    return *verifier_;
  }

  const SecureProcessor* sp_ = nullptr;
  const std::filesystem::path* dir_ = nullptr;
  std::optional<snp::Verifier> verifier_;
};

// --- State ---------------------------------------------------------------------

TEST_F(SecureProcessorTest, CreateWritesStateThatLoadsBack) {
  EXPECT_EQ(ModeOf(*dir_), 0700u);
  for (const char* key : {"ark.key.pem", "ask.key.pem", "vcek.key.pem"}) {
    EXPECT_EQ(ModeOf(*dir_ / key), 0400u) << key;
    EXPECT_EQ(ReadTextFile(*dir_ / key)->rfind("-----BEGIN PRIVATE KEY-----", 0), 0u) << key;
  }
  for (const char* cert : {"ark.pem", "ask.pem", "vcek.pem", "state.json"}) {
    EXPECT_EQ(ModeOf(*dir_ / cert), 0644u) << cert;
  }

  auto loaded = SecureProcessor::Load(*dir_);
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->ark_der(), sp_->ark_der());
  EXPECT_EQ(loaded->ask_der(), sp_->ask_der());
  EXPECT_EQ(loaded->vcek_der(), sp_->vcek_der());
  EXPECT_EQ(loaded->ark_pem(), *ReadTextFile(*dir_ / "ark.pem"));
  EXPECT_EQ(loaded->chip_id(), sp_->chip_id());
  EXPECT_EQ(loaded->tcb(), kDefaultTcb);
  EXPECT_EQ(loaded->product(), Product::kMilan);

  // The loaded emulator signs with the same VCEK: its reports verify under the
  // original root.
  auto vm = loaded->RegisterVm(kMeasurement, kHostData);
  ASSERT_TRUE(vm);
  auto report = vm->GetReport(AsBytes("after reload"));
  ASSERT_TRUE(report);
  EXPECT_TRUE(OwnVerifier().Verify(*report, sp_->vcek_der(), Options()));
}

TEST_F(SecureProcessorTest, CreateRefusesToOverwriteAState) {
  EXPECT_EQ(CodeOf(SecureProcessor::Create(*dir_)), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(SecureProcessor::Load(*dir_));  // untouched
}

class TamperedStateTest : public SecureProcessorTest {
 protected:
  void SetUp() override {
    SecureProcessorTest::SetUp();
    copy_ = TempDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(copy_);
    std::filesystem::copy(*dir_, copy_);
  }
  void TearDown() override { std::filesystem::remove_all(copy_); }
  void Replace(const std::string& file, std::string_view text) {
    std::filesystem::remove(copy_ / file);
    ASSERT_TRUE(WriteFileAtomic(copy_ / file, text, 0600));
  }
  void ReplaceInState(const std::string& from, const std::string& to) {
    std::string state = *ReadTextFile(copy_ / "state.json");
    const size_t at = state.find(from);
    ASSERT_NE(at, std::string::npos) << state;
    state.replace(at, from.size(), to);
    Replace("state.json", state);
  }
  std::filesystem::path copy_;
};

TEST_F(TamperedStateTest, ForeignKeyIsRejected) {
  auto other = crypto::PrivateKey::Generate(crypto::KeyType::kEcP384);
  Replace("vcek.key.pem", *other->ToPkcs8Pem());
  EXPECT_EQ(CodeOf(SecureProcessor::Load(copy_)), ErrorCode::kCertificateInvalid);
}

TEST_F(TamperedStateTest, KeyOfTheWrongTypeIsRejected) {
  Replace("vcek.key.pem", *ReadTextFile(copy_ / "ask.key.pem"));
  EXPECT_EQ(CodeOf(SecureProcessor::Load(copy_)), ErrorCode::kInvalidArgument);
}

TEST_F(TamperedStateTest, SwappedCertificatesAreRejected) {
  // ASK key and certificate under the ARK's names: the pairs match, the
  // chain does not.
  Replace("ark.pem", *ReadTextFile(copy_ / "ask.pem"));
  Replace("ark.key.pem", *ReadTextFile(copy_ / "ask.key.pem"));
  EXPECT_FALSE(SecureProcessor::Load(copy_));
}

TEST_F(TamperedStateTest, ChipIdThatTheVcekDoesNotCarryIsRejected) {
  const std::string chip_hex = HexEncode(sp_->chip_id());
  std::string other_chip = chip_hex;
  other_chip[0] = other_chip[0] == '0' ? '1' : '0';
  ReplaceInState(chip_hex, other_chip);
  EXPECT_EQ(CodeOf(SecureProcessor::Load(copy_)), ErrorCode::kCertificateInvalid);
}

TEST_F(TamperedStateTest, TcbThatTheVcekDoesNotCarryIsRejected) {
  ReplaceInState("\"microcode\": 115", "\"microcode\": 116");
  EXPECT_EQ(CodeOf(SecureProcessor::Load(copy_)), ErrorCode::kCertificateInvalid);
}

TEST_F(TamperedStateTest, MalformedOrMissingFilesAreRejected) {
  ReplaceInState("\"microcode\": 115", "\"microcode\": 300");
  EXPECT_EQ(CodeOf(SecureProcessor::Load(copy_)), ErrorCode::kParse);
  Replace("state.json", "{not json");
  EXPECT_EQ(CodeOf(SecureProcessor::Load(copy_)), ErrorCode::kParse);
  Replace("state.json", *ReadTextFile(*dir_ / "state.json"));
  std::filesystem::remove(copy_ / "ask.pem");
  EXPECT_EQ(CodeOf(SecureProcessor::Load(copy_)), ErrorCode::kNotFound);
  EXPECT_EQ(CodeOf(SecureProcessor::Load(TempDir("does-not-exist"))), ErrorCode::kNotFound);
}

// --- Certificates ------------------------------------------------------------------

TEST_F(SecureProcessorTest, ChainHasTheShapeOfAmdsButSaysItIsNot) {
  const Certificate ark = MustParse(sp_->ark_der());
  const Certificate ask = MustParse(sp_->ask_der());
  const Certificate vcek = MustParse(sp_->vcek_der());

  EXPECT_EQ(ark.SubjectCommonName(), "ARK-Milan");
  EXPECT_TRUE(ark.SelfIssued());
  EXPECT_NE(ark.SubjectText().find("INSECURE"), std::string::npos) << ark.SubjectText();
  EXPECT_NE(ark.SubjectText().find("Santa Clara"), std::string::npos);
  EXPECT_EQ(ask.SubjectCommonName(), "SEV-Milan");
  EXPECT_EQ(ask.IssuerCommonName(), "ARK-Milan");
  EXPECT_EQ(vcek.SubjectCommonName(), "SEV-VCEK");
  EXPECT_EQ(vcek.IssuerCommonName(), "SEV-Milan");
  EXPECT_EQ(ark.Serial(), (Bytes{0x01, 0x00, 0x00}));
  EXPECT_EQ(ask.Serial(), (Bytes{0x01, 0x00, 0x01}));

  for (const Certificate* cert : {&ark, &ask, &vcek}) {
    EXPECT_EQ(X509_get_signature_nid(cert->get()), NID_rsassaPss) << cert->SubjectCommonName();
    EXPECT_EQ(X509_get_version(cert->get()), X509_VERSION_3);
  }
  EXPECT_TRUE(EVP_PKEY_is_a(ark.PublicKey(), "RSA"));
  EXPECT_TRUE(EVP_PKEY_is_a(ask.PublicKey(), "RSA"));
  EXPECT_TRUE(EVP_PKEY_is_a(vcek.PublicKey(), "EC"));
  EXPECT_EQ(EVP_PKEY_get_bits(vcek.PublicKey()), 384);

  EXPECT_EQ(X509_get_key_usage(ark.get()), static_cast<uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  EXPECT_EQ(X509_get_key_usage(ask.get()), static_cast<uint32_t>(KU_KEY_CERT_SIGN));
  EXPECT_EQ(X509_get_pathlen(ask.get()), 0);
  EXPECT_NE(X509_get_extension_flags(ark.get()) & EXFLAG_CA, 0u);
  for (int nid : {NID_key_usage, NID_basic_constraints, NID_subject_key_identifier, NID_authority_key_identifier}) {
    EXPECT_LT(X509_get_ext_by_NID(vcek.get(), nid, -1), 0) << OBJ_nid2sn(nid);
  }
  for (const crypto::Extension& ext : vcek.Extensions()) {
    EXPECT_EQ(ext.oid.rfind("1.3.6.1.4.1.3704.1.", 0), 0u) << ext.oid;
    EXPECT_FALSE(ext.critical) << ext.oid;
  }

  EXPECT_TRUE(ask.VerifySignedBy(ark));
  EXPECT_TRUE(vcek.VerifySignedBy(ask));
  const Certificate anchors[] = {ark};
  const Certificate intermediates[] = {ask};
  EXPECT_TRUE(crypto::VerifyChain(vcek, intermediates, anchors, Now()));
}

TEST_F(SecureProcessorTest, VcekExtensionsCarryTcbAndChipId) {
  auto info = snp::ParseEndorsementKey(sp_->vcek_der());
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->kind, snp::SigningKey::kVcek);
  EXPECT_EQ(info->struct_version, 0);
  EXPECT_EQ(info->product_name, "Milan-B1");
  EXPECT_EQ(info->tcb, sp_->tcb());
  ASSERT_TRUE(info->hwid);
  EXPECT_EQ(*info->hwid, Bytes(sp_->chip_id().begin(), sp_->chip_id().end()));

  // hwID is the raw 64 bytes, as AMD's KDS writes it (no OCTET STRING tag).
  auto hwid = MustParse(sp_->vcek_der()).ExtensionValue("1.3.6.1.4.1.3704.1.4");
  ASSERT_TRUE(hwid && *hwid);
  EXPECT_EQ(**hwid, Bytes(sp_->chip_id().begin(), sp_->chip_id().end()));
  auto ucode = MustParse(sp_->vcek_der()).ExtensionValue("1.3.6.1.4.1.3704.1.3.8");
  ASSERT_TRUE(ucode && *ucode);
  EXPECT_EQ(HexEncode(**ucode), "020173");  // INTEGER 115
}

// --- Reports -----------------------------------------------------------------------

TEST_F(SecureProcessorTest, ReportCarriesRegisteredAndPlatformFields) {
  snp::ByteArray<64> report_data{};
  for (size_t i = 0; i < report_data.size(); ++i) report_data[i] = static_cast<uint8_t>(i);
  auto vm = sp_->RegisterVm(kMeasurement, kHostData);
  ASSERT_TRUE(vm);
  auto bytes = vm->GetReport(report_data);
  ASSERT_TRUE(bytes) << bytes.error().message;
  ASSERT_EQ(bytes->size(), snp::kReportSize);
  auto report = snp::ParseReport(*bytes);
  ASSERT_TRUE(report) << report.error().message;

  EXPECT_EQ(report->version, 3u);
  EXPECT_EQ(report->policy, 0x30000u);  // SMT + reserved bit 17, ABI 0.0
  EXPECT_EQ(report->vmpl, 0u);
  EXPECT_EQ(report->signature_algo, 1u);
  EXPECT_EQ(report->Signer().signing_key, snp::SigningKey::kVcek);
  EXPECT_EQ(report->measurement, kMeasurement);
  EXPECT_EQ(report->host_data, kHostData);
  EXPECT_EQ(report->report_data, report_data);
  EXPECT_EQ(report->cpuid_fam_id, 0x19);
  EXPECT_EQ(report->cpuid_mod_id, 0x01);
  EXPECT_EQ(report->cpuid_step, 1);
  EXPECT_EQ(report->ProductFromCpuid(), Product::kMilan);
  EXPECT_EQ(report->chip_id, sp_->chip_id());
  EXPECT_FALSE(report->ChipIdMasked());
  for (uint64_t tcb : {report->current_tcb, report->reported_tcb, report->committed_tcb, report->launch_tcb}) {
    EXPECT_EQ(tcb, 0x7308000000000003u);
  }
  EXPECT_EQ(report->current_major, 1);
  EXPECT_EQ(report->current_minor, 55);
  EXPECT_EQ(report->current_build, 1);
  EXPECT_EQ(report->committed_major, 1);
  EXPECT_EQ(report->committed_minor, 55);
  EXPECT_EQ(report->committed_build, 1);
  EXPECT_EQ(report->report_id, vm->report_id());
  EXPECT_EQ(report->report_id_ma, Filled<32>(0xFF));
  EXPECT_EQ(snp::SerializeReport(*report), *bytes);
}

TEST_F(SecureProcessorTest, ReportIdIsPerVmAndReportDataIsPadded) {
  auto first = sp_->RegisterVm(kMeasurement, kHostData);
  auto second = sp_->RegisterVm(kMeasurement, kHostData);
  ASSERT_TRUE(first && second);
  EXPECT_NE(first->report_id(), second->report_id());

  auto a = snp::ParseReport(*first->GetReport(AsBytes("nonce")));
  auto b = snp::ParseReport(*first->GetReport({}));
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->report_id, b->report_id);
  snp::ByteArray<64> padded{};
  std::copy_n("nonce", 5, padded.begin());
  EXPECT_EQ(a->report_data, padded);
  EXPECT_EQ(b->report_data, snp::ByteArray<64>{});

  EXPECT_EQ(CodeOf(first->GetReport(Bytes(65, 1))), ErrorCode::kInvalidArgument);
}

TEST_F(SecureProcessorTest, RegisteredPolicyIsReported) {
  auto vm = sp_->RegisterVm(kMeasurement, kHostData, snp::GuestPolicy{.abi_minor = 31, .smt = true});
  ASSERT_TRUE(vm);
  auto report = snp::ParseReport(*vm->GetReport({}));
  ASSERT_TRUE(report);
  EXPECT_EQ(report->policy, 0x3001Fu);
}

// The report signature checked with EVP alone, independent of snp::Verifier.
TEST_F(SecureProcessorTest, ReportSignatureVerifiesWithTheVcekPublicKey) {
  const Bytes bytes = Report(AsBytes("evp"));
  ASSERT_EQ(bytes.size(), snp::kReportSize);
  auto little_endian_to_bignum = [&](size_t offset) {
    // 72-byte little-endian fields of which P-384 uses the low 48 bytes.
    EXPECT_TRUE(
        std::all_of(bytes.begin() + offset + 48, bytes.begin() + offset + 72, [](uint8_t b) { return b == 0; }));
    return BN_lebin2bn(bytes.data() + offset, 72, nullptr);
  };
  crypto::EcdsaSigPtr sig(ECDSA_SIG_new());
  ASSERT_EQ(ECDSA_SIG_set0(sig.get(), little_endian_to_bignum(0x2A0), little_endian_to_bignum(0x2E8)), 1);
  unsigned char* der = nullptr;
  const int der_length = i2d_ECDSA_SIG(sig.get(), &der);
  ASSERT_GT(der_length, 0);
  crypto::OpensslBytesPtr owned(der);
  EXPECT_TRUE(std::all_of(bytes.begin() + 0x330, bytes.end(), [](uint8_t b) { return b == 0; }));

  const Certificate vcek = MustParse(sp_->vcek_der());
  auto verify = [&](const Bytes& report) {
    crypto::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    EXPECT_EQ(EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha384(), nullptr, vcek.PublicKey()), 1);
    const int ok =
        EVP_DigestVerify(ctx.get(), der, static_cast<size_t>(der_length), report.data(), snp::kSignedRegionSize);
    crypto::ClearOpensslErrors();
    return ok == 1;
  };
  EXPECT_TRUE(verify(bytes));
  Bytes changed = bytes;
  changed[0x90] ^= 1;  // MEASUREMENT
  EXPECT_FALSE(verify(changed));
}

TEST(SecureProcessorOptions, RejectsUnsupportedProductsAndTcbs) {
  EXPECT_EQ(CodeOf(SecureProcessor::CreateInMemory({.product = Product::kTurin})), ErrorCode::kUnsupported);
  EXPECT_EQ(CodeOf(SecureProcessor::CreateInMemory({.product = Product::kUnknown})), ErrorCode::kUnsupported);
  snp::TcbParts with_fmc = kDefaultTcb;
  with_fmc.fmc = 1;
  EXPECT_EQ(CodeOf(SecureProcessor::CreateInMemory({.product = Product::kMilan, .tcb = with_fmc})),
            ErrorCode::kInvalidArgument);
  SecureProcessorOptions ec_roots;
  ec_roots.ca_key_type_for_test = crypto::KeyType::kEcP384;
  EXPECT_EQ(CodeOf(SecureProcessor::CreateInMemory(ec_roots)), ErrorCode::kInvalidArgument);
}

// --- Verification with snp::Verifier (the acceptance criteria) ---------------------

TEST_F(SecureProcessorTest, ReportsVerifyWithTheEmulatorRoot) {
  const Bytes bytes = Report(AsBytes("verify me"));
  auto verified = OwnVerifier().Verify(bytes, sp_->vcek_der(), Options());
  ASSERT_TRUE(verified) << verified.error().message;
  EXPECT_TRUE(verified->insecure_root());
  EXPECT_EQ(verified->product(), Product::kMilan);
  EXPECT_EQ(verified->signing_key(), snp::SigningKey::kVcek);
  EXPECT_EQ(verified->endorsed_tcb(), kDefaultTcb);
  EXPECT_EQ(verified->report().measurement, kMeasurement);
  EXPECT_EQ(verified->report().host_data, kHostData);

  // PEM endorsement key and product from the report's CPUID work too.
  EXPECT_TRUE(OwnVerifier().Verify(bytes, AsBytes(sp_->vcek_pem()), OptionsFor(Product::kUnknown)));
}

TEST_F(SecureProcessorTest, ReportsFailWithTheAmdRoots) {
  const Bytes bytes = Report(AsBytes("verify me"));
  snp::Verifier amd;
  auto verified = amd.Verify(bytes, sp_->vcek_der(), Options());
  ASSERT_FALSE(verified);
  EXPECT_TRUE(verified.error().code == ErrorCode::kUntrustedRoot ||
              verified.error().code == ErrorCode::kSignatureInvalid)
      << verified.error().message;

  // Nor does the emulator's root pass for AMD's when not marked insecure.
  snp::ProductAnchors claims_amd = sp_->TrustAnchor();
  claims_amd.insecure = false;
  snp::Verifier pretender(snp::TrustAnchors{{claims_amd}});
  EXPECT_EQ(CodeOf(pretender.Verify(bytes, sp_->vcek_der(), Options())), ErrorCode::kUntrustedRoot);
}

TEST_F(SecureProcessorTest, ReportsFailUnderAnotherEmulatorsRoot) {
  auto other = SecureProcessor::CreateInMemory(FastOptions());
  ASSERT_TRUE(other) << other.error().message;
  snp::Verifier verifier(snp::TrustAnchors{{other->TrustAnchor()}});
  const Bytes bytes = Report(AsBytes("verify me"));
  EXPECT_FALSE(verifier.Verify(bytes, sp_->vcek_der(), Options()));
  // The other emulator's own VCEK does not bind to this emulator's report.
  EXPECT_FALSE(verifier.Verify(bytes, other->vcek_der(), Options()));
}

TEST_F(SecureProcessorTest, ReportsFailWhenAnyFieldChangesAfterSigning) {
  const Bytes bytes = Report(AsBytes("original report data"));
  ASSERT_TRUE(OwnVerifier().Verify(bytes, sp_->vcek_der(), Options()));
  struct Mutation {
    const char* field;
    size_t offset;
    uint8_t xor_mask;
  };
  const Mutation mutations[] = {
      {"GUEST_SVN", 0x004, 0x01},          {"POLICY (SMT)", 0x00A, 0x01},  {"FAMILY_ID", 0x010, 0x01},
      {"IMAGE_ID", 0x020, 0x01},           {"VMPL", 0x030, 0x01},          {"CURRENT_TCB", 0x038, 0x01},
      {"PLATFORM_INFO", 0x040, 0x02},      {"REPORT_DATA", 0x050, 0x01},   {"MEASUREMENT", 0x090, 0x01},
      {"MEASUREMENT end", 0x0BF, 0x80},    {"HOST_DATA", 0x0C0, 0x01},     {"ID_KEY_DIGEST", 0x0E0, 0x01},
      {"REPORT_ID", 0x140, 0x01},          {"REPORT_ID_MA", 0x160, 0x01},  {"REPORTED_TCB", 0x180, 0x01},
      {"REPORTED_TCB ucode", 0x187, 0x01}, {"CPUID_STEP", 0x18A, 0x01},    {"CHIP_ID", 0x1A0, 0x01},
      {"COMMITTED_TCB", 0x1E0, 0x01},      {"CURRENT_BUILD", 0x1E8, 0x01}, {"LAUNCH_TCB", 0x1F0, 0x01},
      {"SIGNATURE_R", 0x2A0, 0x01},        {"SIGNATURE_S", 0x2E8, 0x01},
  };
  for (const Mutation& m : mutations) {
    Bytes changed = bytes;
    changed[m.offset] ^= m.xor_mask;
    // Still a well-formed report: the rejection comes from verification.
    ASSERT_TRUE(snp::ParseReport(changed)) << m.field;
    auto verified = OwnVerifier().Verify(changed, sp_->vcek_der(), Options());
    ASSERT_FALSE(verified) << m.field << " changed, but the report still verifies";
    const ErrorCode code = verified.error().code;
    EXPECT_TRUE(code == ErrorCode::kSignatureInvalid || code == ErrorCode::kTcbMismatch ||
                code == ErrorCode::kChipIdMismatch)
        << m.field << ": " << verified.error().message;
  }

  // The same through the parsed-report overload.
  auto parsed = snp::ParseReport(bytes);
  ASSERT_TRUE(parsed);
  parsed->host_data[31] ^= 1;
  EXPECT_EQ(CodeOf(OwnVerifier().Verify(*parsed, sp_->vcek_der(), Options())), ErrorCode::kSignatureInvalid);
}

TEST_F(SecureProcessorTest, VerificationHonoursValidityAndTheArkCrl) {
  const Bytes bytes = Report(AsBytes("crl"));
  snp::VerifyOptions late = Options();
  late.at = Now() + std::chrono::days(8 * 366);  // past the VCEK's 7 years
  EXPECT_EQ(CodeOf(OwnVerifier().Verify(bytes, sp_->vcek_der(), late)), ErrorCode::kCertificateExpired);

  // A CRL signed with the stored ARK key that revokes the ASK.
  auto ark_key = crypto::PrivateKey::FromPkcs8Pem(*ReadTextFile(*dir_ / "ark.key.pem"));
  ASSERT_TRUE(ark_key);
  const crypto::DistinguishedName ark_name = {
      {"OU", "Engineering"}, {"C", "US"}, {"L", "Santa Clara"}, {"ST", "CA"}, {"O", std::string(kEmulatedOrganization)},
      {"CN", "ARK-Milan"}};
  auto crl_revoking = [&](Bytes serial) {
    auto crl = crypto::CrlBuilder()
                   .SetIssuer(ark_name)
                   .SetUpdateTimes(Now() - std::chrono::hours(1), Now() + std::chrono::days(30))
                   .AddRevoked(std::move(serial), Now() - std::chrono::hours(1))
                   .SignDer(*ark_key);
    EXPECT_TRUE(crl) << crl.error().message;
    return *crl;
  };
  snp::VerifyOptions with_crl = Options();
  with_crl.crl = crl_revoking({0x01, 0x00, 0x01});
  EXPECT_EQ(CodeOf(OwnVerifier().Verify(bytes, sp_->vcek_der(), with_crl)), ErrorCode::kCertificateRevoked);
  with_crl.crl = crl_revoking({0x42});
  EXPECT_TRUE(OwnVerifier().Verify(bytes, sp_->vcek_der(), with_crl));
}

TEST(SecureProcessorGenoa, SignsGenoaShapedReportsThatVerify) {
  const snp::TcbParts tcb{.fmc = 0, .bootloader = 9, .tee = 0, .snp = 23, .microcode = 72};
  auto sp = SecureProcessor::CreateInMemory({.product = Product::kGenoa, .tcb = tcb});
  ASSERT_TRUE(sp) << sp.error().message;
  const Certificate ark = MustParse(sp->ark_der());
  EXPECT_EQ(ark.SubjectCommonName(), "ARK-Genoa");
  EXPECT_EQ(ark.Serial(), (Bytes{0x02, 0x00, 0x00}));
  // By default the CA keys are RSA-4096, like AMD's.
  EXPECT_EQ(EVP_PKEY_get_bits(ark.PublicKey()), 4096);
  EXPECT_EQ(EVP_PKEY_get_bits(MustParse(sp->ask_der()).PublicKey()), 4096);
  EXPECT_EQ(*snp::ParseEndorsementKey(sp->vcek_der())->hwid, Bytes(sp->chip_id().begin(), sp->chip_id().end()));
  auto vm = sp->RegisterVm(kMeasurement, kHostData);
  ASSERT_TRUE(vm);
  auto bytes = vm->GetReport(AsBytes("genoa"));
  ASSERT_TRUE(bytes);
  auto report = snp::ParseReport(*bytes);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->ProductFromCpuid(), Product::kGenoa);
  EXPECT_EQ(snp::DecodeTcb(report->reported_tcb, Product::kGenoa), tcb);

  snp::Verifier verifier(snp::TrustAnchors{{sp->TrustAnchor()}});
  auto verified = verifier.Verify(*bytes, sp->vcek_der(), OptionsFor(Product::kGenoa));
  ASSERT_TRUE(verified) << verified.error().message;
  EXPECT_EQ(verified->endorsed_tcb(), tcb);
  EXPECT_EQ(CodeOf(verifier.Verify(*bytes, sp->vcek_der(), OptionsFor(Product::kMilan))), ErrorCode::kProductMismatch);
}

}  // namespace
}  // namespace contrast::attest::emulated
