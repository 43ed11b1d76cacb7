// AMD KDS client against a real HTTP server on loopback that serves the
// shared test vectors under the KDS URL layout.
#include "attest/snp/kds.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <atomic>
#include <filesystem>
#include <random>
#include <thread>
#include <vector>

#include "common/files.h"
#include "common/http.h"
#include "crypto/openssl.h"
#include "support/http_server.h"
#include "support/testdata.h"

namespace contrast::attest::snp {
namespace {

using contrast::testing::HttpServer;
using contrast::testing::ReadTestdata;
using contrast::testing::TestdataDir;
using std::chrono::milliseconds;

constexpr std::string_view kMilanChipId =
    "d49554ec717f4e5b0fe6b143bcf0405bd7ae304727edf46603f2a76aef6a3abc15d7af38db757039029f0efacfd08e244324884738c72b"
    "082e2f87a44d541eb6";
constexpr std::string_view kGenoaChipId =
    "0506ffba875e939c2729d20c74eb72b4c5ba6bf7ea1faaa640141f12c6d64782fb487f68ce69dcd021e914cc0d9244327bc121f0242d"
    "6470903ad1d4aaea4ad1";
const std::string kMilanVcekPath =
    "/vcek/v1/Milan/" + std::string(kMilanChipId) + "?blSPL=3&teeSPL=0&snpSPL=8&ucodeSPL=115";
const std::string kGenoaVcekPath =
    "/vcek/v1/Genoa/" + std::string(kGenoaChipId) + "?blSPL=10&teeSPL=0&snpSPL=23&ucodeSPL=84";
const std::string kTurinVcekPath = "/vcek/v1/Turin/1e550a8ee5cf9f4d?fmcSPL=0&blSPL=0&teeSPL=0&snpSPL=0&ucodeSPL=9";
const TcbParts kMilanTcb{.fmc = 0, .bootloader = 3, .tee = 0, .snp = 8, .microcode = 115};
const TcbParts kTurinTcb{.fmc = 0, .bootloader = 0, .tee = 0, .snp = 0, .microcode = 9};

Bytes MustHex(std::string_view hex) {
  auto bytes = HexDecode(hex);
  EXPECT_TRUE(bytes);
  return bytes ? *bytes : Bytes{};
}

Bytes TurinChipId() {
  Bytes chip = MustHex("1e550a8ee5cf9f4d");
  chip.resize(64, 0x5a);  // only the first 8 bytes go into the URL
  return chip;
}

Report MustParseReport(const std::string& file) {
  auto report = ParseReport(ReadTestdata(file));
  EXPECT_TRUE(report) << file << ": " << (report ? "" : report.error().message);
  return report ? *report : Report{};
}

Bytes PemToDer(const Bytes& pem) {
  crypto::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  crypto::X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  EXPECT_TRUE(cert);
  if (!cert) return {};
  unsigned char* der = nullptr;
  const int len = i2d_X509(cert.get(), &der);
  crypto::OpensslBytesPtr owned(der);
  return len > 0 ? Bytes(der, der + len) : Bytes{};
}

// A small, correctly signed DER CRL (there is no real KDS CRL among the
// vectors; the client only checks the shape).
Bytes MakeCrl() {
  crypto::EvpPkeyPtr key(EVP_EC_gen("P-256"));
  crypto::Owned<X509_CRL, X509_CRL_free> crl(X509_CRL_new());
  crypto::X509NamePtr issuer(X509_NAME_new());
  crypto::Asn1TimePtr now(X509_gmtime_adj(nullptr, 0));
  crypto::Asn1TimePtr next(X509_gmtime_adj(nullptr, 7 * 24 * 3600));
  EXPECT_TRUE(key && crl && issuer && now && next);
  if (!key || !crl || !issuer || !now || !next) return {};
  X509_NAME_add_entry_by_txt(issuer.get(), "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("ARK-Test"), -1,
                             -1, 0);
  EXPECT_EQ(X509_CRL_set_version(crl.get(), 1), 1);
  EXPECT_EQ(X509_CRL_set_issuer_name(crl.get(), issuer.get()), 1);
  EXPECT_EQ(X509_CRL_set1_lastUpdate(crl.get(), now.get()), 1);
  EXPECT_EQ(X509_CRL_set1_nextUpdate(crl.get(), next.get()), 1);
  EXPECT_GT(X509_CRL_sign(crl.get(), key.get(), EVP_sha256()), 0);
  unsigned char* der = nullptr;
  const int len = i2d_X509_CRL(crl.get(), &der);
  crypto::OpensslBytesPtr owned(der);
  return len > 0 ? Bytes(der, der + len) : Bytes{};
}

HttpServer::Reply BytesReply(int status, std::string_view body) {
  HttpServer::Reply reply;
  reply.status = status;
  reply.body.assign(body.begin(), body.end());
  return reply;
}

// --- URL builders -----------------------------------------------------------

TEST(KdsUrl, MilanVcekFromRealReport) {
  CONTRAST_REQUIRE_TESTDATA();
  const Report report = MustParseReport("snp/virtee_report_milan.bin");
  auto url = KdsClient::VcekUrl(kAmdKdsBaseUrl, Product::kMilan, report.chip_id,
                                DecodeTcb(report.reported_tcb, Product::kMilan));
  ASSERT_TRUE(url) << url.error().message;
  EXPECT_EQ(*url, "https://kdsintf.amd.com" + kMilanVcekPath);
}

TEST(KdsUrl, GenoaVcekFromRealReport) {
  CONTRAST_REQUIRE_TESTDATA();
  const Report report = MustParseReport("snp/trustee_azure_genoa_report.bin");
  auto url = KdsClient::VcekUrl(kAmdKdsBaseUrl, Product::kGenoa, report.chip_id,
                                DecodeTcb(report.reported_tcb, Product::kGenoa));
  ASSERT_TRUE(url) << url.error().message;
  EXPECT_EQ(*url, "https://kdsintf.amd.com" + kGenoaVcekPath);
}

TEST(KdsUrl, TurinVcekMatchesVectorB9) {
  const std::string expected =
      "https://kdsintf.amd.com/vcek/v1/Turin/1e550a8ee5cf9f4d?fmcSPL=0&blSPL=0&teeSPL=0&snpSPL=0&ucodeSPL=9";
  auto from_chip_id = KdsClient::VcekUrl(kAmdKdsBaseUrl, Product::kTurin, TurinChipId(), kTurinTcb);
  ASSERT_TRUE(from_chip_id) << from_chip_id.error().message;
  EXPECT_EQ(*from_chip_id, expected);
  auto from_hwid = KdsClient::VcekUrl(kAmdKdsBaseUrl, Product::kTurin, MustHex("1e550a8ee5cf9f4d"), kTurinTcb);
  ASSERT_TRUE(from_hwid) << from_hwid.error().message;
  EXPECT_EQ(*from_hwid, expected);
  // Every Turin SPL lands in its own parameter.
  auto url = KdsClient::VcekUrl(kAmdKdsBaseUrl, Product::kTurin, TurinChipId(),
                                TcbParts{.fmc = 1, .bootloader = 2, .tee = 3, .snp = 4, .microcode = 200});
  ASSERT_TRUE(url);
  EXPECT_EQ(*url,
            "https://kdsintf.amd.com/vcek/v1/Turin/1e550a8ee5cf9f4d?fmcSPL=1&blSPL=2&teeSPL=3&snpSPL=4&ucodeSPL=200");
}

TEST(KdsUrl, CertChainAndCrl) {
  EXPECT_EQ(KdsClient::CertChainUrl(kAmdKdsBaseUrl, Product::kMilan, SigningKey::kVcek).value_or(""),
            "https://kdsintf.amd.com/vcek/v1/Milan/cert_chain");
  EXPECT_EQ(KdsClient::CertChainUrl(kAmdKdsBaseUrl, Product::kGenoa, SigningKey::kVlek).value_or(""),
            "https://kdsintf.amd.com/vlek/v1/Genoa/cert_chain");
  EXPECT_EQ(KdsClient::CrlUrl(kAmdKdsBaseUrl, Product::kTurin, SigningKey::kVcek).value_or(""),
            "https://kdsintf.amd.com/vcek/v1/Turin/crl");
  EXPECT_EQ(KdsClient::CrlUrl("http://127.0.0.1:8080/kds//", Product::kMilan, SigningKey::kVlek).value_or(""),
            "http://127.0.0.1:8080/kds/vlek/v1/Milan/crl");
}

TEST(KdsUrl, RejectsUnusableInputs) {
  const Bytes chip(64, 0x11);
  auto unknown = KdsClient::VcekUrl(kAmdKdsBaseUrl, Product::kUnknown, chip, kMilanTcb);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(unknown.error().message.find("product"), std::string::npos);

  auto short_id = KdsClient::VcekUrl(kAmdKdsBaseUrl, Product::kMilan, Bytes(8, 0x11), kMilanTcb);
  ASSERT_FALSE(short_id);
  EXPECT_EQ(short_id.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(short_id.error().message.find("got 8"), std::string::npos) << short_id.error().message;

  auto masked = KdsClient::VcekUrl(kAmdKdsBaseUrl, Product::kGenoa, Bytes(64, 0), kMilanTcb);
  ASSERT_FALSE(masked);
  EXPECT_EQ(masked.error().code, ErrorCode::kUnsupported);
  EXPECT_NE(masked.error().message.find("masked"), std::string::npos);

  // Turin uses only the first 8 bytes: those being zero is a masked id too.
  Bytes turin_masked(64, 0x22);
  std::fill_n(turin_masked.begin(), 8, 0);
  auto masked_turin = KdsClient::VcekUrl(kAmdKdsBaseUrl, Product::kTurin, turin_masked, kTurinTcb);
  ASSERT_FALSE(masked_turin);
  EXPECT_EQ(masked_turin.error().code, ErrorCode::kUnsupported);

  auto fmc_on_milan = KdsClient::VcekUrl(kAmdKdsBaseUrl, Product::kMilan, chip, TcbParts{.fmc = 1});
  ASSERT_FALSE(fmc_on_milan);
  EXPECT_EQ(fmc_on_milan.error().code, ErrorCode::kInvalidArgument);

  auto no_key = KdsClient::CertChainUrl(kAmdKdsBaseUrl, Product::kMilan, SigningKey::kNone);
  ASSERT_FALSE(no_key);
  EXPECT_EQ(no_key.error().code, ErrorCode::kInvalidArgument);
}

// --- Fetching over loopback -------------------------------------------------

class KdsFetch : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.ok());
    std::random_device rd;
    cache_dir_ = std::filesystem::temp_directory_path() /
                 ("contrast-kds-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    const auto dir = TestdataDir();
    if (dir.empty()) return;
    snp_ = dir / "snp";
    server_.ServeFile(kMilanVcekPath, snp_ / "virtee_vcek_milan.der");
    server_.ServeFile(kTurinVcekPath, snp_ / "virtee_vcek_turin.der");
    server_.ServeFile("/vcek/v1/Milan/cert_chain", snp_ / "ask_ark_milan_vcek.pem");
    server_.ServeFile("/vlek/v1/Milan/cert_chain", snp_ / "asvk_ark_milan_vlek.pem");
    server_.ServeFile("/vcek/v1/Genoa/cert_chain", snp_ / "ask_ark_genoa_vcek.pem");
    server_.ServeFile("/vcek/v1/Turin/cert_chain", snp_ / "ask_ark_turin_vcek.pem");
  }

  void TearDown() override {
    server_.Stop();
    std::error_code ec;
    std::filesystem::remove_all(cache_dir_, ec);
  }

  // Fast retries; no disk cache unless asked.
  KdsOptions Options(bool with_cache = false) const {
    KdsOptions options;
    options.base_url = server_.BaseUrl();
    if (with_cache) options.cache_dir = cache_dir_;
    options.initial_backoff = milliseconds(1);
    options.max_backoff = milliseconds(20);
    options.timeout = milliseconds(5000);
    return options;
  }

  size_t CachedFiles() const {
    std::error_code ec;
    if (!std::filesystem::exists(cache_dir_, ec)) return 0;
    size_t n = 0;
    for (const auto& entry : std::filesystem::directory_iterator(cache_dir_)) n += entry.is_regular_file() ? 1 : 0;
    return n;
  }

  HttpServer server_;
  std::filesystem::path cache_dir_;
  std::filesystem::path snp_;
};

TEST_F(KdsFetch, MilanVcekForRealReport) {
  CONTRAST_REQUIRE_TESTDATA();
  const Report report = MustParseReport("snp/virtee_report_milan.bin");
  KdsClient client(Options());
  auto vcek = client.FetchVcek(Product::kMilan, report.chip_id, DecodeTcb(report.reported_tcb, Product::kMilan));
  ASSERT_TRUE(vcek) << vcek.error().message;
  EXPECT_EQ(*vcek, ReadTestdata("snp/virtee_vcek_milan.der"));
  // v2 reports carry no CPUID: the caller names the product.
  auto again = client.FetchVcekForReport(report, Product::kMilan);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(*again, *vcek);
  EXPECT_EQ(server_.RequestCount(kMilanVcekPath), 2);
}

TEST_F(KdsFetch, GenoaVcekWithProductFromCpuid) {
  CONTRAST_REQUIRE_TESTDATA();
  const Bytes der = PemToDer(ReadTestdata("snp/trustee_azure_genoa_vcek.pem"));
  server_.Serve(kGenoaVcekPath, HttpServer::Reply{.status = 200, .body = der, .headers = {}, .content_length = true});
  const Report report = MustParseReport("snp/trustee_azure_genoa_report.bin");
  KdsClient client(Options());
  auto vcek = client.FetchVcekForReport(report);
  ASSERT_TRUE(vcek) << vcek.error().message;
  EXPECT_EQ(*vcek, der);

  auto mismatch = client.FetchVcekForReport(report, Product::kMilan);
  ASSERT_FALSE(mismatch);
  EXPECT_EQ(mismatch.error().code, ErrorCode::kProductMismatch);
  EXPECT_EQ(server_.TotalRequests(), 1);
}

TEST_F(KdsFetch, TurinVcek) {
  CONTRAST_REQUIRE_TESTDATA();
  KdsClient client(Options());
  auto vcek = client.FetchVcek(Product::kTurin, TurinChipId(), kTurinTcb);
  ASSERT_TRUE(vcek) << vcek.error().message;
  EXPECT_EQ(*vcek, ReadTestdata("snp/virtee_vcek_turin.der"));
}

TEST_F(KdsFetch, CertChains) {
  CONTRAST_REQUIRE_TESTDATA();
  KdsClient client(Options());
  const struct {
    Product product;
    SigningKey kind;
    const char* file;
  } cases[] = {
      {Product::kMilan, SigningKey::kVcek, "snp/ask_ark_milan_vcek.pem"},
      {Product::kMilan, SigningKey::kVlek, "snp/asvk_ark_milan_vlek.pem"},
      {Product::kGenoa, SigningKey::kVcek, "snp/ask_ark_genoa_vcek.pem"},
      {Product::kTurin, SigningKey::kVcek, "snp/ask_ark_turin_vcek.pem"},
  };
  for (const auto& c : cases) {
    auto chain = client.FetchCertChain(c.product, c.kind);
    ASSERT_TRUE(chain) << c.file << ": " << chain.error().message;
    EXPECT_EQ(*chain, ReadTestdata(c.file)) << c.file;
  }
}

TEST_F(KdsFetch, CacheHitMakesNoRequestEvenInANewClient) {
  CONTRAST_REQUIRE_TESTDATA();
  const Bytes expected = ReadTestdata("snp/virtee_vcek_milan.der");
  {
    KdsClient client(Options(/*with_cache=*/true));
    for (int i = 0; i < 3; ++i) {
      auto vcek = client.FetchVcek(Product::kMilan, MustHex(kMilanChipId), kMilanTcb);
      ASSERT_TRUE(vcek) << vcek.error().message;
      EXPECT_EQ(*vcek, expected);
    }
    auto chain = client.FetchCertChain(Product::kMilan, SigningKey::kVcek);
    ASSERT_TRUE(chain) << chain.error().message;
  }
  EXPECT_EQ(server_.RequestCount(kMilanVcekPath), 1);
  EXPECT_EQ(CachedFiles(), 2u);

  KdsClient fresh(Options(/*with_cache=*/true));
  auto vcek = fresh.FetchVcek(Product::kMilan, MustHex(kMilanChipId), kMilanTcb);
  ASSERT_TRUE(vcek) << vcek.error().message;
  EXPECT_EQ(*vcek, expected);
  auto chain = fresh.FetchCertChain(Product::kMilan, SigningKey::kVcek);
  ASSERT_TRUE(chain) << chain.error().message;
  EXPECT_EQ(*chain, ReadTestdata("snp/ask_ark_milan_vcek.pem"));
  EXPECT_EQ(server_.RequestCount(kMilanVcekPath), 1);
  EXPECT_EQ(server_.RequestCount("/vcek/v1/Milan/cert_chain"), 1);
}

TEST_F(KdsFetch, WithoutCacheEveryFetchAsks) {
  CONTRAST_REQUIRE_TESTDATA();
  KdsClient client(Options());
  ASSERT_TRUE(client.FetchCertChain(Product::kMilan, SigningKey::kVcek));
  ASSERT_TRUE(client.FetchCertChain(Product::kMilan, SigningKey::kVcek));
  EXPECT_EQ(server_.RequestCount("/vcek/v1/Milan/cert_chain"), 2);
  EXPECT_EQ(CachedFiles(), 0u);
}

TEST_F(KdsFetch, CorruptCacheEntryIsFetchedAgain) {
  CONTRAST_REQUIRE_TESTDATA();
  KdsClient client(Options(/*with_cache=*/true));
  ASSERT_TRUE(client.FetchVcek(Product::kMilan, MustHex(kMilanChipId), kMilanTcb));
  ASSERT_EQ(CachedFiles(), 1u);
  const auto entry = std::filesystem::directory_iterator(cache_dir_)->path();
  EXPECT_EQ(entry.filename().string().rfind("vcek-Milan-", 0), 0u) << entry;
  ASSERT_TRUE(WriteFileAtomic(entry, std::string_view("<html>not a certificate</html>")));

  auto vcek = client.FetchVcek(Product::kMilan, MustHex(kMilanChipId), kMilanTcb);
  ASSERT_TRUE(vcek) << vcek.error().message;
  EXPECT_EQ(*vcek, ReadTestdata("snp/virtee_vcek_milan.der"));
  EXPECT_EQ(server_.RequestCount(kMilanVcekPath), 2);
  EXPECT_EQ(ReadFile(entry).value_or(Bytes{}), *vcek);  // repaired
}

TEST_F(KdsFetch, CrlIsCachedUntilMaxAge) {
  const Bytes crl = MakeCrl();
  ASSERT_FALSE(crl.empty());
  server_.Serve("/vcek/v1/Genoa/crl",
                HttpServer::Reply{.status = 200, .body = crl, .headers = {}, .content_length = true});
  KdsClient client(Options(/*with_cache=*/true));
  for (int i = 0; i < 2; ++i) {
    auto fetched = client.FetchCrl(Product::kGenoa, SigningKey::kVcek);
    ASSERT_TRUE(fetched) << fetched.error().message;
    EXPECT_EQ(*fetched, crl);
  }
  EXPECT_EQ(server_.RequestCount("/vcek/v1/Genoa/crl"), 1);

  // Older than crl_max_age (1 day by default): asked again.
  ASSERT_EQ(CachedFiles(), 1u);
  const auto entry = std::filesystem::directory_iterator(cache_dir_)->path();
  std::filesystem::last_write_time(entry, std::filesystem::file_time_type::clock::now() - std::chrono::hours(48));
  ASSERT_TRUE(client.FetchCrl(Product::kGenoa, SigningKey::kVcek));
  EXPECT_EQ(server_.RequestCount("/vcek/v1/Genoa/crl"), 2);
  ASSERT_TRUE(client.FetchCrl(Product::kGenoa, SigningKey::kVcek));
  EXPECT_EQ(server_.RequestCount("/vcek/v1/Genoa/crl"), 2);  // the refreshed copy is fresh

  // Explicit refresh, and a zero max age, always ask.
  ASSERT_TRUE(client.FetchCrl(Product::kGenoa, SigningKey::kVcek, CrlCache::kRefresh));
  EXPECT_EQ(server_.RequestCount("/vcek/v1/Genoa/crl"), 3);
  KdsOptions no_age = Options(/*with_cache=*/true);
  no_age.crl_max_age = std::chrono::seconds(0);
  ASSERT_TRUE(KdsClient(no_age).FetchCrl(Product::kGenoa, SigningKey::kVcek));
  EXPECT_EQ(server_.RequestCount("/vcek/v1/Genoa/crl"), 4);
}

TEST_F(KdsFetch, CrlThatIsNotDerIsRejected) {
  server_.Serve("/vlek/v1/Milan/crl", BytesReply(200, "-----BEGIN X509 CRL-----\n"));
  KdsClient client(Options(/*with_cache=*/true));
  auto crl = client.FetchCrl(Product::kMilan, SigningKey::kVlek);
  ASSERT_FALSE(crl);
  EXPECT_EQ(crl.error().code, ErrorCode::kParse);
  EXPECT_EQ(CachedFiles(), 0u);
}

TEST_F(KdsFetch, NotFoundNamesTheUrlAndIsNotRetried) {
  KdsClient client(Options(/*with_cache=*/true));
  const Bytes chip(64, 0xab);
  auto vcek = client.FetchVcek(Product::kMilan, chip, kMilanTcb);
  ASSERT_FALSE(vcek);
  EXPECT_EQ(vcek.error().code, ErrorCode::kNotFound);
  const std::string path = "/vcek/v1/Milan/" + HexEncode(chip) + "?blSPL=3&teeSPL=0&snpSPL=8&ucodeSPL=115";
  EXPECT_NE(vcek.error().message.find(server_.BaseUrl() + path), std::string::npos) << vcek.error().message;
  EXPECT_NE(vcek.error().message.find("404"), std::string::npos);
  EXPECT_EQ(server_.RequestCount(path), 1);
  EXPECT_EQ(CachedFiles(), 0u);
}

TEST_F(KdsFetch, ServerErrorIsRetriedMaxAttemptsTimes) {
  CONTRAST_REQUIRE_TESTDATA();
  server_.FailNext("/vcek/v1/Milan/cert_chain", 100, BytesReply(500, "oops"));
  KdsOptions options = Options(/*with_cache=*/true);
  options.max_attempts = 3;
  auto chain = KdsClient(options).FetchCertChain(Product::kMilan, SigningKey::kVcek);
  ASSERT_FALSE(chain);
  EXPECT_EQ(chain.error().code, ErrorCode::kHttpStatus);
  EXPECT_NE(chain.error().message.find("500"), std::string::npos) << chain.error().message;
  EXPECT_NE(chain.error().message.find(server_.BaseUrl() + "/vcek/v1/Milan/cert_chain"), std::string::npos);
  EXPECT_EQ(server_.RequestCount("/vcek/v1/Milan/cert_chain"), 3);
  EXPECT_EQ(CachedFiles(), 0u);
}

TEST_F(KdsFetch, TransientServerErrorsAreRetriedUntilSuccess) {
  CONTRAST_REQUIRE_TESTDATA();
  server_.FailNext(kMilanVcekPath, 2, BytesReply(503, "busy"));
  KdsClient client(Options(/*with_cache=*/true));
  auto vcek = client.FetchVcek(Product::kMilan, MustHex(kMilanChipId), kMilanTcb);
  ASSERT_TRUE(vcek) << vcek.error().message;
  EXPECT_EQ(*vcek, ReadTestdata("snp/virtee_vcek_milan.der"));
  EXPECT_EQ(server_.RequestCount(kMilanVcekPath), 3);
  EXPECT_EQ(CachedFiles(), 1u);
}

TEST_F(KdsFetch, RateLimitIsRetriedWithRetryAfter) {
  CONTRAST_REQUIRE_TESTDATA();
  HttpServer::Reply limited = BytesReply(429, "slow down");
  limited.headers.emplace_back("Retry-After", "1");  // capped by max_backoff (20 ms here)
  server_.FailNext("/vcek/v1/Turin/cert_chain", 1, limited);
  auto chain = KdsClient(Options()).FetchCertChain(Product::kTurin, SigningKey::kVcek);
  ASSERT_TRUE(chain) << chain.error().message;
  EXPECT_EQ(server_.RequestCount("/vcek/v1/Turin/cert_chain"), 2);
}

TEST_F(KdsFetch, ClientErrorIsNotRetried) {
  server_.Serve("/vcek/v1/Genoa/cert_chain", BytesReply(400, "bad"));
  auto chain = KdsClient(Options()).FetchCertChain(Product::kGenoa, SigningKey::kVcek);
  ASSERT_FALSE(chain);
  EXPECT_EQ(chain.error().code, ErrorCode::kHttpStatus);
  EXPECT_NE(chain.error().message.find("400"), std::string::npos);
  EXPECT_EQ(server_.RequestCount("/vcek/v1/Genoa/cert_chain"), 1);
}

TEST_F(KdsFetch, HangingServerTimesOut) {
  server_.Hang("/vcek/v1/Milan/cert_chain");
  KdsOptions options = Options();
  options.timeout = milliseconds(300);
  options.max_attempts = 2;
  auto chain = KdsClient(options).FetchCertChain(Product::kMilan, SigningKey::kVcek);
  ASSERT_FALSE(chain);
  EXPECT_EQ(chain.error().code, ErrorCode::kTimeout) << chain.error().message;
  EXPECT_EQ(server_.RequestCount("/vcek/v1/Milan/cert_chain"), 2);  // timeouts are retried
}

TEST_F(KdsFetch, OversizedResponseIsRejected) {
  const Bytes big(8192, 'A');
  // Announced by Content-Length, and only discovered while reading.
  server_.Serve("/vcek/v1/Milan/cert_chain",
                HttpServer::Reply{.status = 200, .body = big, .headers = {}, .content_length = true});
  server_.Serve("/vcek/v1/Genoa/cert_chain",
                HttpServer::Reply{.status = 200, .body = big, .headers = {}, .content_length = false});
  KdsOptions options = Options(/*with_cache=*/true);
  options.max_response_size = 4096;
  KdsClient client(options);
  for (Product product : {Product::kMilan, Product::kGenoa}) {
    auto chain = client.FetchCertChain(product, SigningKey::kVcek);
    ASSERT_FALSE(chain) << ProductName(product);
    EXPECT_EQ(chain.error().code, ErrorCode::kParse) << chain.error().message;
    EXPECT_NE(chain.error().message.find("4096"), std::string::npos) << chain.error().message;
  }
  EXPECT_EQ(server_.RequestCount("/vcek/v1/Milan/cert_chain"), 1);
  EXPECT_EQ(server_.RequestCount("/vcek/v1/Genoa/cert_chain"), 1);
  EXPECT_EQ(CachedFiles(), 0u);
}

TEST_F(KdsFetch, ErrorPageWithStatus200IsNotCached) {
  CONTRAST_REQUIRE_TESTDATA();
  server_.FailNext(kMilanVcekPath, 1, BytesReply(200, "<html><body>Service temporarily unavailable</body></html>"));
  KdsClient client(Options(/*with_cache=*/true));
  auto vcek = client.FetchVcek(Product::kMilan, MustHex(kMilanChipId), kMilanTcb);
  ASSERT_FALSE(vcek);
  EXPECT_EQ(vcek.error().code, ErrorCode::kParse);
  EXPECT_NE(vcek.error().message.find("DER X.509"), std::string::npos) << vcek.error().message;
  EXPECT_EQ(CachedFiles(), 0u);

  // The next fetch asks again and gets the real certificate.
  auto retry = client.FetchVcek(Product::kMilan, MustHex(kMilanChipId), kMilanTcb);
  ASSERT_TRUE(retry) << retry.error().message;
  EXPECT_EQ(*retry, ReadTestdata("snp/virtee_vcek_milan.der"));
  EXPECT_EQ(server_.RequestCount(kMilanVcekPath), 2);
}

TEST_F(KdsFetch, WrongChainShapeIsRejected) {
  CONTRAST_REQUIRE_TESTDATA();
  // One certificate where the intermediate and the root are expected.
  server_.ServeFile("/vcek/v1/Milan/cert_chain", snp_ / "ark_milan.pem");
  auto chain = KdsClient(Options(/*with_cache=*/true)).FetchCertChain(Product::kMilan, SigningKey::kVcek);
  ASSERT_FALSE(chain);
  EXPECT_EQ(chain.error().code, ErrorCode::kParse);
  EXPECT_NE(chain.error().message.find("got 1"), std::string::npos) << chain.error().message;
  EXPECT_EQ(CachedFiles(), 0u);
}

TEST_F(KdsFetch, ConnectionRefusedIsANetworkError) {
  HttpServer closed;
  ASSERT_TRUE(closed.ok());
  KdsOptions options = Options();
  options.base_url = closed.BaseUrl();
  options.max_attempts = 2;
  closed.Stop();
  auto chain = KdsClient(options).FetchCertChain(Product::kMilan, SigningKey::kVcek);
  ASSERT_FALSE(chain);
  EXPECT_EQ(chain.error().code, ErrorCode::kNetwork) << chain.error().message;
  EXPECT_NE(chain.error().message.find("2 attempts"), std::string::npos) << chain.error().message;
}

TEST_F(KdsFetch, VlekAndMaskedReportsCannotFetch) {
  CONTRAST_REQUIRE_TESTDATA();
  KdsClient client(Options());
  auto vlek = client.FetchVcekForReport(MustParseReport("snp/trustee_test-vlek-report.bin"), Product::kMilan);
  ASSERT_FALSE(vlek);
  EXPECT_EQ(vlek.error().code, ErrorCode::kUnsupported);
  EXPECT_NE(vlek.error().message.find("VLEK"), std::string::npos);

  Report masked = MustParseReport("snp/virtee_report_milan.bin");
  masked.chip_id.fill(0);
  auto from_masked = client.FetchVcekForReport(masked, Product::kMilan);
  ASSERT_FALSE(from_masked);
  EXPECT_EQ(from_masked.error().code, ErrorCode::kUnsupported);
  EXPECT_NE(from_masked.error().message.find("masked"), std::string::npos);

  auto no_product = client.FetchVcekForReport(MustParseReport("snp/virtee_report_milan.bin"));
  ASSERT_FALSE(no_product);
  EXPECT_EQ(no_product.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(server_.TotalRequests(), 0);
}

// --- The HTTP client itself -------------------------------------------------

TEST(HttpGet, ReturnsAnyStatusWithBodyAndHeaders) {
  HttpServer server;
  ASSERT_TRUE(server.ok());
  HttpServer::Reply reply = BytesReply(503, "maintenance");
  reply.headers = {{"Content-Type", "text/plain"}, {"Retry-After", "7"}};
  server.Serve("/x?a=1", reply);
  auto response = http::Get(server.BaseUrl() + "/x?a=1");
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->status, 503);
  EXPECT_EQ(AsChars(response->body), "maintenance");
  EXPECT_EQ(response->content_type, "text/plain");
  ASSERT_TRUE(response->retry_after.has_value());
  EXPECT_EQ(response->retry_after->count(), 7);
  EXPECT_EQ(server.RequestCount("/x?a=1"), 1);
}

TEST(HttpGet, DelayedAnswerWithinTimeoutSucceeds) {
  HttpServer server;
  ASSERT_TRUE(server.ok());
  server.Serve("/slow", BytesReply(200, "done"));
  server.SetDelay("/slow", milliseconds(50));
  auto response = http::Get(server.BaseUrl() + "/slow");
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(AsChars(response->body), "done");
}

TEST(HttpGet, RejectsOtherSchemes) {
  auto response = http::Get("file:///etc/passwd");
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().code, ErrorCode::kInvalidArgument) << response.error().message;
}

TEST(HttpGet, ConcurrentRequestsFromManyThreads) {
  HttpServer server;
  ASSERT_TRUE(server.ok());
  server.Serve("/same", BytesReply(200, "shared"));
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 5; ++j) {
        auto response = http::Get(server.BaseUrl() + "/same");
        if (response && response->status == 200 && AsChars(response->body) == "shared") ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 40);
  EXPECT_EQ(server.RequestCount("/same"), 40);
}

}  // namespace
}  // namespace contrast::attest::snp
