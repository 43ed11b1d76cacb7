// The verifier's own SEV-SNP collateral (VCEKs, ARK CRLs) against a real HTTP
// server on loopback serving the KDS URL layout, and revocation in
// snp::Verifier and validation.
#include "attest/snp/collateral.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "attest/emulated/secure_processor.h"
#include "attest/snp/validate.h"
#include "attest/snp/verify.h"
#include "common/files.h"
#include "crypto/keys.h"
#include "crypto/x509_builder.h"
#include "support/http_server.h"
#include "support/testdata.h"

namespace contrast::attest::snp {
namespace {

using contrast::testing::HttpServer;
using contrast::testing::ReadTestdata;
using contrast::testing::TestdataDir;
using std::chrono::milliseconds;

// Inside the validity of the real gosevguest VCEK (as verify_test pins it).
const TimePoint kInside = *ParseRfc3339("2025-06-01T00:00:00Z");
constexpr milliseconds kDeadline{600};

bool Contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

std::filesystem::path FreshTempDir(const std::string& name) {
  std::random_device rd;
  auto dir = std::filesystem::temp_directory_path() /
             ("contrast-collateral-test-" + std::to_string(::getpid()) + "-" + name + "-" + std::to_string(rd()));
  std::filesystem::create_directories(dir);
  return dir;
}

// The request target (path and query) KDS has a report's VCEK under.
std::string VcekTarget(const Report& report, Product product) {
  auto url = KdsClient::VcekUrl("", product, report.chip_id, DecodeTcb(report.reported_tcb, product));
  EXPECT_TRUE(url) << (url ? "" : url.error().message);
  return url ? *url : "";
}

HttpServer::Reply BodyReply(Bytes body) {
  HttpServer::Reply reply;
  reply.body = std::move(body);
  return reply;
}

// A port that accepts connections (the kernel completes the handshake into
// the backlog) but whose owner never reads or answers.
class SilentListener {
 public:
  SilentListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ADD_FAILURE() << "cannot set up a listening socket";
      return;
    }
    port_ = ntohs(addr.sin_port);
  }
  ~SilentListener() {
    if (fd_ >= 0) ::close(fd_);
  }
  std::string BaseUrl() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

// A loopback port nobody listens on: connections are refused.
std::string RefusingBaseUrl() {
  HttpServer server;
  const std::string url = server.BaseUrl();
  server.Stop();
  return url;
}

CollateralOptions OptionsFor(const std::string& base_url) {
  CollateralOptions options;
  options.kds_base_url = base_url;
  options.fetch_deadline = kDeadline;
  options.connect_timeout = kDeadline;
  options.failure_cooldown = milliseconds(0);
  return options;
}

// --- VCEKs from a real report -------------------------------------------------

class SnpCollateralVcek : public ::testing::Test {
 protected:
  void SetUp() override {
    CONTRAST_REQUIRE_TESTDATA();
    ASSERT_TRUE(server_.ok());
    auto report = ParseReport(ReadTestdata("snp/gosevguest_attestation.bin"));
    ASSERT_TRUE(report) << report.error().message;
    report_ = *report;
    target_ = VcekTarget(report_, Product::kMilan);
    server_.ServeFile(target_, TestdataDir() / "snp" / "gosevguest_vcek.der");
  }

  HttpServer server_;
  Report report_;
  std::string target_;
};

TEST_F(SnpCollateralVcek, FetchedOnceThenServedFromMemory) {
  CollateralSource source(OptionsFor(server_.BaseUrl()));
  auto first = source.VcekForReport(report_, Product::kMilan);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(*first, ReadTestdata("snp/gosevguest_vcek.der"));
  for (int i = 0; i < 3; ++i) {
    auto again = source.VcekForReport(report_, Product::kMilan);
    ASSERT_TRUE(again) << again.error().message;
    EXPECT_EQ(*again, *first);
  }
  EXPECT_EQ(server_.RequestCount(target_), 1);
  EXPECT_EQ(source.fetch_counts().vcek, 1u);

  // The fetched VCEK verifies the real report (at the pinned time).
  Verifier verifier;
  VerifyOptions options;
  options.product = Product::kMilan;
  options.at = kInside;
  auto verified = verifier.Verify(report_, *first, options);
  ASSERT_TRUE(verified) << verified.error().message;
}

TEST_F(SnpCollateralVcek, DiskCacheServesAFreshSource) {
  const auto dir = FreshTempDir("vcek-disk");
  CollateralOptions options = OptionsFor(server_.BaseUrl());
  options.cache_dir = dir / "cache";
  {
    CollateralSource source(options);
    ASSERT_TRUE(source.VcekForReport(report_, Product::kMilan));
  }
  CollateralSource restarted(options);
  auto cached = restarted.VcekForReport(report_, Product::kMilan);
  ASSERT_TRUE(cached) << cached.error().message;
  EXPECT_EQ(*cached, ReadTestdata("snp/gosevguest_vcek.der"));
  EXPECT_EQ(server_.RequestCount(target_), 1);
  EXPECT_EQ(restarted.fetch_counts().vcek, 0u);
  std::filesystem::remove_all(dir);
}

TEST_F(SnpCollateralVcek, ConcurrentRequestsShareOneFetch) {
  server_.SetDelay(target_, milliseconds(300));
  CollateralSource source(OptionsFor(server_.BaseUrl()));
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      if (source.VcekForReport(report_, Product::kMilan)) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 8);
  EXPECT_EQ(server_.RequestCount(target_), 1);
  EXPECT_EQ(source.fetch_counts().vcek, 1u);
}

TEST_F(SnpCollateralVcek, ProxyUrlIsUsedWhenConfigured) {
  HttpServer proxy;
  ASSERT_TRUE(proxy.ok());
  proxy.ServeFile("/mirror" + target_, TestdataDir() / "snp" / "gosevguest_vcek.der");
  CollateralOptions options = OptionsFor(server_.BaseUrl());
  options.collateral_proxy_url = proxy.BaseUrl() + "/mirror";
  CollateralSource source(options);
  EXPECT_EQ(source.base_url(), proxy.BaseUrl() + "/mirror");
  auto vcek = source.VcekForReport(report_, Product::kMilan);
  ASSERT_TRUE(vcek) << vcek.error().message;
  EXPECT_EQ(proxy.RequestCount("/mirror" + target_), 1);
  EXPECT_EQ(server_.TotalRequests(), 0);
}

TEST_F(SnpCollateralVcek, CorruptedOrOversizedBodyIsRefusedAndNotCached) {
  const auto dir = FreshTempDir("vcek-corrupt");
  CollateralOptions options = OptionsFor(server_.BaseUrl());
  options.cache_dir = dir;
  options.max_response_size = 4096;
  Bytes truncated = ReadTestdata("snp/gosevguest_vcek.der");
  truncated.resize(truncated.size() / 2);
  server_.Serve(target_, BodyReply(truncated));
  CollateralSource source(options);
  auto refused = source.VcekForReport(report_, Product::kMilan);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kParse) << refused.error().message;

  server_.Serve(target_, BodyReply(Bytes(8192, 0x30)));
  auto oversized = source.VcekForReport(report_, Product::kMilan);
  ASSERT_FALSE(oversized);
  EXPECT_EQ(oversized.error().code, ErrorCode::kParse) << oversized.error().message;
  EXPECT_TRUE(std::filesystem::is_empty(dir)) << "a refused body must not reach the disk cache";

  // Nothing was kept: the real certificate is fetched next.
  server_.ServeFile(target_, TestdataDir() / "snp" / "gosevguest_vcek.der");
  auto good = source.VcekForReport(report_, Product::kMilan);
  ASSERT_TRUE(good) << good.error().message;
  EXPECT_EQ(server_.RequestCount(target_), 3);
  EXPECT_EQ(source.fetch_counts().failed, 2u);
  std::filesystem::remove_all(dir);
}

TEST_F(SnpCollateralVcek, FailureCooldownAnswersAtOnce) {
  CollateralOptions options = OptionsFor(server_.BaseUrl());
  options.failure_cooldown = std::chrono::seconds(60);
  server_.Serve(target_, BodyReply(Bytes{0x01, 0x02}));
  CollateralSource source(options);
  ASSERT_FALSE(source.VcekForReport(report_, Product::kMilan));
  auto again = source.VcekForReport(report_, Product::kMilan);
  ASSERT_FALSE(again);
  EXPECT_TRUE(Contains(again.error().message, "not retried")) << again.error().message;
  EXPECT_EQ(server_.RequestCount(target_), 1);
}

TEST_F(SnpCollateralVcek, VlekReportsAreRefusedWithoutARequest) {
  auto vlek_report = ParseReport(ReadTestdata("snp/trustee_test-vlek-report.bin"));
  ASSERT_TRUE(vlek_report);
  CollateralSource source(OptionsFor(server_.BaseUrl()));
  auto refused = source.VcekForReport(*vlek_report, Product::kMilan);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kUnsupported);
  EXPECT_EQ(server_.TotalRequests(), 0);
}

// --- Outages with a cold cache -----------------------------------------------

struct Timed {
  Error error;
  milliseconds elapsed;
};

template <typename Call>
Timed FailingCall(Call&& call) {
  const auto start = std::chrono::steady_clock::now();
  auto result = call();
  const auto elapsed = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start);
  EXPECT_FALSE(result);
  return Timed{result ? Error{} : result.error(), elapsed};
}

TEST_F(SnpCollateralVcek, SilentServerFailsWithinTheDeadline) {
  SilentListener silent;
  CollateralSource source(OptionsFor(silent.BaseUrl()));
  const Timed t = FailingCall([&] { return source.VcekForReport(report_, Product::kMilan); });
  EXPECT_EQ(t.error.code, ErrorCode::kTimeout) << t.error.message;
  EXPECT_TRUE(Contains(t.error.message, "fetching the VCEK")) << t.error.message;
  EXPECT_LT(t.elapsed, 3 * kDeadline);
}

TEST_F(SnpCollateralVcek, RefusedConnectionFailsWithinTheDeadline) {
  CollateralSource source(OptionsFor(RefusingBaseUrl()));
  const Timed t = FailingCall([&] { return source.VcekForReport(report_, Product::kMilan); });
  EXPECT_TRUE(t.error.code == ErrorCode::kNetwork || t.error.code == ErrorCode::kTimeout) << t.error.message;
  EXPECT_LT(t.elapsed, 3 * kDeadline);
}

// --- Revocation of real reports: AMD's CRL is not among the vectors -----------

SnpReferenceValues EntryMatching(const Report& report, Product product) {
  SnpReferenceValues rv;
  rv.product = product;
  rv.trusted_measurement = report.measurement;
  rv.guest_policy = report.Policy();
  rv.platform_info = report.Platform();
  rv.required_vmpl = report.vmpl;
  return rv;
}

bool HasRevocationMismatch(const ValidationResult& result) {
  for (const Mismatch& m : result.mismatches) {
    if (m.field == "REVOCATION") return true;
  }
  return false;
}

TEST_F(SnpCollateralVcek, RealReportWithoutCrlIsNotCheckedAndTheManifestDecides) {
  CollateralSource source(OptionsFor(server_.BaseUrl()));  // serves no CRL: 404
  Verifier verifier;
  VerifyOptions options;
  options.product = Product::kMilan;
  options.at = kInside;
  options.crl_source = &source;
  auto vcek = source.VcekForReport(report_, Product::kMilan);
  ASSERT_TRUE(vcek);
  auto verified = verifier.Verify(report_, *vcek, options);
  ASSERT_TRUE(verified) << verified.error().message;
  EXPECT_FALSE(verified->revocation().checked);
  EXPECT_TRUE(Contains(verified->revocation().detail, "404")) << verified->revocation().detail;
  EXPECT_EQ(server_.RequestCount("/vcek/v1/Milan/crl"), 1);

  SnpReferenceValues rv = EntryMatching(report_, Product::kMilan);
  const ValidationResult refused = Validate(*verified, rv);
  EXPECT_TRUE(HasRevocationMismatch(refused)) << refused.Message();
  EXPECT_TRUE(Contains(refused.Message(), "AllowMissingRevocationCheck")) << refused.Message();
  const std::vector<SnpReferenceValues> entries = {rv};
  EXPECT_TRUE(HasRevocationMismatch(ValidateAgainstAny(*verified, entries)));

  rv.allow_missing_revocation_check = true;
  const ValidationResult allowed = Validate(*verified, rv);
  EXPECT_FALSE(HasRevocationMismatch(allowed)) << allowed.Message();
  const std::vector<SnpReferenceValues> allowing = {rv};
  EXPECT_FALSE(HasRevocationMismatch(ValidateAgainstAny(*verified, allowing)));
}

TEST_F(SnpCollateralVcek, NoCrlSourceMeansNotChecked) {
  Verifier verifier;
  VerifyOptions options;
  options.product = Product::kMilan;
  options.at = kInside;
  auto verified = verifier.Verify(report_, ReadTestdata("snp/gosevguest_vcek.der"), options);
  ASSERT_TRUE(verified) << verified.error().message;
  EXPECT_FALSE(verified->revocation().checked);
  EXPECT_TRUE(Contains(verified->revocation().detail, "no CRL source")) << verified->revocation().detail;
}

// --- Revocation with the emulated secure processor's root --------------------

crypto::DistinguishedName SubjectOf(const crypto::Certificate& cert) {
  crypto::DistinguishedName name;
  const X509_NAME* subject = X509_get_subject_name(cert.get());
  for (int i = 0; i < X509_NAME_entry_count(subject); ++i) {
    const X509_NAME_ENTRY* entry = X509_NAME_get_entry(subject, i);
    const ASN1_STRING* value = X509_NAME_ENTRY_get_data(entry);
    name.push_back({OBJ_nid2sn(OBJ_obj2nid(X509_NAME_ENTRY_get_object(entry))),
                    std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                                static_cast<size_t>(ASN1_STRING_length(value)))});
  }
  return name;
}

class SnpCollateralEmulated : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    state_dir_ = new std::filesystem::path(FreshTempDir("emulated"));
    emulated::SecureProcessorOptions options;
    options.ca_key_type_for_test = crypto::KeyType::kRsa2048;
    auto sp = emulated::SecureProcessor::Create(*state_dir_ / "sp", options);
    ASSERT_TRUE(sp) << sp.error().message;
    sp_ = new emulated::SecureProcessor(std::move(*sp));
  }
  static void TearDownTestSuite() {
    delete sp_;
    sp_ = nullptr;
    if (state_dir_ != nullptr) std::filesystem::remove_all(*state_dir_);
    delete state_dir_;
    state_dir_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(sp_, nullptr);
    ASSERT_TRUE(server_.ok());
    emulated::Measurement measurement{};
    measurement.fill(0x4d);
    auto vm = sp_->RegisterVm(measurement, emulated::HostData{});
    ASSERT_TRUE(vm);
    auto report = vm->GetReport(Bytes(64, 0x11));
    ASSERT_TRUE(report);
    report_ = *report;
    auto ark = crypto::Certificate::ParseDer(sp_->ark_der());
    auto ask = crypto::Certificate::ParseDer(sp_->ask_der());
    auto vcek = crypto::Certificate::ParseDer(sp_->vcek_der());
    ASSERT_TRUE(ark && ask && vcek);
    ark_.emplace(*ark);
    ask_serial_ = ask->Serial();
    vcek_serial_ = vcek->Serial();
    if (vcek_serial_.empty()) vcek_serial_ = {0x00};  // the emulator numbers its VCEK 0
  }

  // A CRL of the emulated ARK (its key from the emulator's state directory).
  Bytes ArkCrl(std::vector<Bytes> revoked, TimePoint this_update = Now() - std::chrono::hours(1),
               TimePoint next_update = Now() + std::chrono::hours(24 * 7), bool foreign_key = false) const {
    auto pem = ReadFile(*state_dir_ / "sp" / "ark.key.pem");
    EXPECT_TRUE(pem);
    auto key = foreign_key ? crypto::PrivateKey::Generate(crypto::KeyType::kRsa2048)
                           : crypto::PrivateKey::FromPkcs8Pem(pem ? std::string(AsChars(*pem)) : "");
    EXPECT_TRUE(key) << (key ? "" : key.error().message);
    if (!key) return {};
    crypto::CrlBuilder builder;
    builder.SetIssuer(SubjectOf(*ark_)).SetUpdateTimes(this_update, next_update);
    for (Bytes& serial : revoked) builder.AddRevoked(std::move(serial), this_update);
    auto der = builder.SignDer(*key);
    EXPECT_TRUE(der) << (der ? "" : der.error().message);
    return der ? *der : Bytes{};
  }

  void ServeCrl(Bytes crl) { server_.Serve(kCrlTarget, BodyReply(std::move(crl))); }

  Result<VerifiedReport> VerifyWith(const CrlSource* source) const {
    Verifier verifier(TrustAnchors{{sp_->TrustAnchor()}});
    VerifyOptions options;
    options.at = Now();
    options.crl_source = source;
    return verifier.Verify(report_, sp_->vcek_der(), options);
  }

  SnpReferenceValues Entry() const {
    SnpReferenceValues rv;
    rv.product = sp_->product();
    rv.trusted_measurement.fill(0x4d);
    rv.minimum_tcb = sp_->tcb();
    rv.guest_policy.smt = true;
    rv.platform_info.smt_enabled = true;
    return rv;
  }

  static ValidateOptions Insecure() {
    ValidateOptions options;
    options.insecure_accept_non_amd_root = true;
    return options;
  }

  static inline const std::string kCrlTarget = "/vcek/v1/Milan/crl";
  static inline std::filesystem::path* state_dir_ = nullptr;
  static inline emulated::SecureProcessor* sp_ = nullptr;
  HttpServer server_;
  Bytes report_;
  std::optional<crypto::Certificate> ark_;
  Bytes ask_serial_;
  Bytes vcek_serial_;
};

TEST_F(SnpCollateralEmulated, CleanCrlIsChecked) {
  ServeCrl(ArkCrl({}));
  CollateralSource source(OptionsFor(server_.BaseUrl()));
  auto verified = VerifyWith(&source);
  ASSERT_TRUE(verified) << verified.error().message;
  EXPECT_TRUE(verified->revocation().checked);
  EXPECT_TRUE(Contains(verified->revocation().detail, "ARK-Milan")) << verified->revocation().detail;
  EXPECT_TRUE(Validate(*verified, Entry(), Insecure()).ok()) << Validate(*verified, Entry(), Insecure()).Message();

  // Served from memory afterwards.
  ASSERT_TRUE(VerifyWith(&source));
  EXPECT_EQ(server_.RequestCount(kCrlTarget), 1);
  EXPECT_EQ(source.fetch_counts().crl, 1u);
}

TEST_F(SnpCollateralEmulated, RevokedVcekIsRefused) {
  ServeCrl(ArkCrl({vcek_serial_}));
  CollateralSource source(OptionsFor(server_.BaseUrl()));
  auto verified = VerifyWith(&source);
  ASSERT_FALSE(verified);
  EXPECT_EQ(verified.error().code, ErrorCode::kCertificateRevoked) << verified.error().message;
  EXPECT_TRUE(Contains(verified.error().message, "VCEK")) << verified.error().message;
}

TEST_F(SnpCollateralEmulated, RevokedAskIsRefused) {
  ServeCrl(ArkCrl({Bytes{0x7f, 0x01}, ask_serial_}));
  CollateralSource source(OptionsFor(server_.BaseUrl()));
  auto verified = VerifyWith(&source);
  ASSERT_FALSE(verified);
  EXPECT_EQ(verified.error().code, ErrorCode::kCertificateRevoked) << verified.error().message;
  EXPECT_TRUE(Contains(verified.error().message, "ASK")) << verified.error().message;
}

TEST_F(SnpCollateralEmulated, WithoutCrlTheEntryDecides) {
  auto verified = VerifyWith(nullptr);
  ASSERT_TRUE(verified) << verified.error().message;
  EXPECT_FALSE(verified->revocation().checked);
  SnpReferenceValues rv = Entry();
  const ValidationResult refused = Validate(*verified, rv, Insecure());
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(HasRevocationMismatch(refused)) << refused.Message();
  EXPECT_EQ(refused.mismatches.size(), 1u) << refused.Message();
  rv.allow_missing_revocation_check = true;
  EXPECT_TRUE(Validate(*verified, rv, Insecure()).ok());
}

TEST_F(SnpCollateralEmulated, CrlNotSignedByTheArkIsNotUsedOrCached) {
  const auto dir = FreshTempDir("crl-foreign");
  ServeCrl(ArkCrl({vcek_serial_}, Now() - std::chrono::hours(1), Now() + std::chrono::hours(24), true));
  CollateralOptions options = OptionsFor(server_.BaseUrl());
  options.cache_dir = dir;
  CollateralSource source(options);
  auto verified = VerifyWith(&source);
  ASSERT_TRUE(verified) << verified.error().message;
  EXPECT_FALSE(verified->revocation().checked);
  EXPECT_TRUE(Contains(verified->revocation().detail, "not issued by the ARK")) << verified->revocation().detail;
  EXPECT_TRUE(std::filesystem::is_empty(dir));
  std::filesystem::remove_all(dir);
}

TEST_F(SnpCollateralEmulated, CorruptedCrlIsRefusedAndNotCached) {
  const auto dir = FreshTempDir("crl-corrupt");
  Bytes crl = ArkCrl({});
  crl[crl.size() / 2] ^= 0x01;
  ServeCrl(crl);
  CollateralOptions options = OptionsFor(server_.BaseUrl());
  options.cache_dir = dir;
  CollateralSource source(options);
  auto verified = VerifyWith(&source);
  ASSERT_TRUE(verified) << verified.error().message;
  EXPECT_FALSE(verified->revocation().checked);
  EXPECT_TRUE(std::filesystem::is_empty(dir));
  ServeCrl(ArkCrl({}));
  auto again = VerifyWith(&source);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->revocation().checked) << again->revocation().detail;
  EXPECT_EQ(server_.RequestCount(kCrlTarget), 2);
  std::filesystem::remove_all(dir);
}

TEST_F(SnpCollateralEmulated, DiskCachedCrlServesAFreshSource) {
  const auto dir = FreshTempDir("crl-disk");
  ServeCrl(ArkCrl({}));
  CollateralOptions options = OptionsFor(server_.BaseUrl());
  options.cache_dir = dir;
  {
    CollateralSource source(options);
    ASSERT_TRUE(source.CurrentCrl(Product::kMilan, SigningKey::kVcek, *ark_));
  }
  CollateralSource restarted(options);
  auto verified = VerifyWith(&restarted);
  ASSERT_TRUE(verified);
  EXPECT_TRUE(verified->revocation().checked) << verified->revocation().detail;
  EXPECT_EQ(server_.RequestCount(kCrlTarget), 1);
  EXPECT_EQ(restarted.fetch_counts().crl, 0u);
  std::filesystem::remove_all(dir);
}

TEST_F(SnpCollateralEmulated, RefreshAfterMaxAgeFallsBackToTheCurrentCachedCrl) {
  ServeCrl(ArkCrl({}, Now() - std::chrono::hours(1), Now() + std::chrono::hours(48)));
  std::atomic<int64_t> offset_hours{0};
  CollateralOptions options = OptionsFor(server_.BaseUrl());
  options.crl_max_age = std::chrono::hours(12);
  options.clock = [&] { return Now() + std::chrono::hours(offset_hours.load()); };
  CollateralSource source(options);
  const std::string& target = kCrlTarget;
  ASSERT_TRUE(source.CurrentCrl(Product::kMilan, SigningKey::kVcek, *ark_));
  ASSERT_TRUE(source.CurrentCrl(Product::kMilan, SigningKey::kVcek, *ark_));
  EXPECT_EQ(server_.RequestCount(target), 1);

  offset_hours = 13;  // older than crl_max_age: refreshed
  ASSERT_TRUE(source.CurrentCrl(Product::kMilan, SigningKey::kVcek, *ark_));
  EXPECT_EQ(server_.RequestCount(target), 2);

  offset_hours = 26;  // refresh fails; the cached CRL is still current
  server_.FailNext(target, 100, HttpServer::Reply{.status = 404, .body = {}, .headers = {}, .content_length = true});
  auto fallback = source.CurrentCrl(Product::kMilan, SigningKey::kVcek, *ark_);
  ASSERT_TRUE(fallback) << fallback.error().message;
  EXPECT_EQ(server_.RequestCount(target), 3);

  offset_hours = 50;  // past nextUpdate: nothing usable, with the reason
  auto none = source.CurrentCrl(Product::kMilan, SigningKey::kVcek, *ark_);
  ASSERT_FALSE(none);
  EXPECT_TRUE(Contains(none.error().message, "404")) << none.error().message;
  EXPECT_TRUE(Contains(none.error().message, "Milan VCEK")) << none.error().message;
}

TEST_F(SnpCollateralEmulated, OutageWithColdCacheIsNotCheckedWithinTheDeadline) {
  SilentListener silent;
  for (const std::string& base : {silent.BaseUrl(), RefusingBaseUrl()}) {
    CollateralSource source(OptionsFor(base));
    const auto start = std::chrono::steady_clock::now();
    auto verified = VerifyWith(&source);
    const auto elapsed = std::chrono::steady_clock::now() - start;
    ASSERT_TRUE(verified) << verified.error().message;
    EXPECT_FALSE(verified->revocation().checked);
    EXPECT_TRUE(Contains(verified->revocation().detail, base)) << verified->revocation().detail;
    EXPECT_LT(elapsed, 3 * kDeadline) << base;
    EXPECT_FALSE(Validate(*verified, Entry(), Insecure()).ok());
  }
}

}  // namespace
}  // namespace contrast::attest::snp
