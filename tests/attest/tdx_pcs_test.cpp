// Intel PCS client against a real HTTP server on loopback that serves the
// real TDX collateral from the shared test vectors (VECTORS.md D1), with
// the issuer chains URL-encoded in the response headers as PCS sends them.
#include "attest/tdx/pcs.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <random>

#include "common/files.h"
#include "common/http.h"
#include "support/http_server.h"
#include "support/testdata.h"

namespace contrast::attest::tdx {
namespace {

using contrast::testing::HttpServer;
using contrast::testing::ReadTestdata;
using std::chrono::milliseconds;
using ::testing::HasSubstr;

const std::string kTcbInfoTarget = "/tdx/certification/v4/tcb?fmspc=50806F000000";
const std::string kQeIdentityTarget = "/tdx/certification/v4/qe/identity";
const std::string kPlatformCrlTarget = "/sgx/certification/v4/pckcrl?ca=platform&encoding=der";
const std::string kProcessorCrlTarget = "/sgx/certification/v4/pckcrl?ca=processor&encoding=der";
const std::string kRootCrlTarget = "/IntelSGXRootCA.der";
const Bytes kFmspc = {0x50, 0x80, 0x6f, 0x00, 0x00, 0x00};

TimePoint At(std::string_view rfc3339) {
  auto t = ParseRfc3339(rfc3339);
  EXPECT_TRUE(t) << rfc3339;
  return t ? *t : TimePoint{};
}

HttpServer::Reply Reply(const Bytes& body, const std::string& header = "", const Bytes& chain = {}) {
  HttpServer::Reply reply;
  reply.body = body;
  if (!header.empty()) reply.headers.emplace_back(header, contrast::testing::PercentEncode(chain));
  return reply;
}

HttpServer::Reply ErrorReply(int status, std::string_view body = "error") {
  HttpServer::Reply reply;
  reply.status = status;
  reply.body.assign(body.begin(), body.end());
  return reply;
}

class PcsFetch : public ::testing::Test {
 protected:
  void SetUp() override {
    CONTRAST_REQUIRE_TESTDATA();
    ASSERT_TRUE(server_.ok());
    tcb_info_ = ReadTestdata("tdx/gotdxguest_sample_tcbInfo_response");
    qe_identity_ = ReadTestdata("tdx/gotdxguest_sample_qeIdentity_response");
    pck_crl_ = ReadTestdata("tdx/gotdxguest_pckcrl");
    root_crl_ = ReadTestdata("tdx/gotdxguest_rootcrl.der");
    tcb_chain_ = ReadTestdata("tdx/gotdxguest_tcbinfo_issuer_chain.pem");
    qe_chain_ = ReadTestdata("tdx/gotdxguest_qeidentity_issuer_chain.pem");
    crl_chain_ = ReadTestdata("tdx/gotdxguest_pckcrl_issuer_chain.pem");
    server_.Serve(kTcbInfoTarget, Reply(tcb_info_, "TCB-Info-Issuer-Chain", tcb_chain_));
    server_.Serve(kQeIdentityTarget, Reply(qe_identity_, "SGX-Enclave-Identity-Issuer-Chain", qe_chain_));
    server_.Serve(kPlatformCrlTarget, Reply(pck_crl_, "SGX-PCK-CRL-Issuer-Chain", crl_chain_));
    server_.Serve(kRootCrlTarget, Reply(root_crl_));
    std::random_device rd;
    cache_dir_ = std::filesystem::temp_directory_path() / ("contrast-pcs-test-" + std::to_string(rd()));
  }
  void TearDown() override {
    server_.Stop();
    std::error_code ec;
    std::filesystem::remove_all(cache_dir_, ec);
  }

  // Against the test server, at 2023-07-01 (when the D1 collateral is
  // current), memory cache only; fast retries.
  PcsOptions Options() {
    PcsOptions options;
    options.base_url = server_.BaseUrl();
    options.root_ca_crl_url = server_.BaseUrl() + kRootCrlTarget;
    options.initial_backoff = milliseconds(1);
    options.max_backoff = milliseconds(5);
    options.now = [this] { return TimePoint(std::chrono::seconds(now_.load())); };
    return options;
  }
  void SetNow(std::string_view rfc3339) { now_ = At(rfc3339).time_since_epoch().count(); }

  HttpServer server_;
  std::atomic<int64_t> now_{At("2023-07-01T00:00:00Z").time_since_epoch().count()};
  std::filesystem::path cache_dir_;
  Bytes tcb_info_, qe_identity_, pck_crl_, root_crl_, tcb_chain_, qe_chain_, crl_chain_;
};

// --- URLs -----------------------------------------------------------------------

TEST(PcsUrl, IntelByDefault) {
  PcsClient client{PcsOptions{}};
  EXPECT_EQ(client.TcbInfoUrl(kFmspc).value_or(""),
            "https://api.trustedservices.intel.com/tdx/certification/v4/tcb?fmspc=50806F000000");
  EXPECT_EQ(client.QeIdentityUrl(), "https://api.trustedservices.intel.com/tdx/certification/v4/qe/identity");
  EXPECT_EQ(client.PckCrlUrl(PckCa::kPlatform),
            "https://api.trustedservices.intel.com/sgx/certification/v4/pckcrl?ca=platform&encoding=der");
  EXPECT_EQ(client.PckCrlUrl(PckCa::kProcessor),
            "https://api.trustedservices.intel.com/sgx/certification/v4/pckcrl?ca=processor&encoding=der");
  EXPECT_EQ(client.RootCaCrlUrl().value_or(""), "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der");
}

TEST(PcsUrl, ProxyReplacesEveryHost) {
  PcsOptions options;
  options.base_url = "https://pcs.example/";
  options.collateral_proxy_url = "http://proxy.internal:8080/";
  PcsClient client(options);
  EXPECT_EQ(client.TcbInfoUrl(kFmspc).value_or(""),
            "http://proxy.internal:8080/tdx/certification/v4/tcb?fmspc=50806F000000");
  EXPECT_EQ(client.QeIdentityUrl(), "http://proxy.internal:8080/tdx/certification/v4/qe/identity");
  EXPECT_EQ(client.RootCaCrlUrl().value_or(""), "http://proxy.internal:8080/IntelSGXRootCA.der");
}

TEST(PcsUrl, RejectsUnusableInputs) {
  PcsOptions options;
  options.root_ca_crl_url = "certificates.example/root.der";
  PcsClient client(options);
  auto url = client.TcbInfoUrl(Bytes(5, 0));
  ASSERT_FALSE(url);
  EXPECT_EQ(url.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(client.RootCaCrlUrl().error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(client.FetchRootCaCrl().error().code, ErrorCode::kInvalidArgument);
}

// --- Fetching -------------------------------------------------------------------

TEST_F(PcsFetch, EachKindWithItsIssuerChain) {
  PcsClient client(Options());
  auto tcb = client.FetchTcbInfo(kFmspc);
  ASSERT_TRUE(tcb) << tcb.error().message;
  EXPECT_EQ(tcb->kind, PcsCollateralKind::kTcbInfo);
  EXPECT_EQ(tcb->body, tcb_info_);
  EXPECT_EQ(tcb->issuer_chain_pem, std::string(AsChars(tcb_chain_)));
  EXPECT_EQ(tcb->next_update, At("2023-07-18T08:42:58Z"));
  EXPECT_EQ(tcb->fetched_at, At("2023-07-01T00:00:00Z"));
  EXPECT_FALSE(tcb->from_cache);

  auto qe = client.FetchQeIdentity();
  ASSERT_TRUE(qe) << qe.error().message;
  EXPECT_EQ(qe->body, qe_identity_);
  EXPECT_EQ(qe->issuer_chain_pem, std::string(AsChars(qe_chain_)));
  EXPECT_EQ(qe->next_update, At("2023-07-08T07:24:59Z"));

  auto crl = client.FetchPckCrl(PckCa::kPlatform);
  ASSERT_TRUE(crl) << crl.error().message;
  EXPECT_EQ(crl->body, pck_crl_);
  EXPECT_EQ(crl->issuer_chain_pem, std::string(AsChars(crl_chain_)));
  EXPECT_EQ(crl->next_update, At("2023-07-08T07:27:52Z"));

  auto root = client.FetchRootCaCrl();
  ASSERT_TRUE(root) << root.error().message;
  EXPECT_EQ(root->body, root_crl_);
  EXPECT_TRUE(root->issuer_chain_pem.empty());
  EXPECT_EQ(root->next_update, At("2024-04-02T10:22:51Z"));
}

TEST_F(PcsFetch, FetchedOnceThenFromMemory) {
  PcsClient client(Options());
  for (int i = 0; i < 3; ++i) {
    auto tcb = client.FetchTcbInfo(kFmspc);
    ASSERT_TRUE(tcb) << tcb.error().message;
    EXPECT_EQ(tcb->from_cache, i > 0);
    EXPECT_EQ(tcb->body, tcb_info_);
    ASSERT_TRUE(client.FetchRootCaCrl());
  }
  EXPECT_EQ(server_.RequestCount(kTcbInfoTarget), 1);
  EXPECT_EQ(server_.RequestCount(kRootCrlTarget), 1);
}

TEST_F(PcsFetch, DiskCacheServesANewClientWithoutRequests) {
  PcsOptions options = Options();
  options.cache_dir = cache_dir_;
  {
    PcsClient first(options);
    ASSERT_TRUE(first.FetchTcbInfo(kFmspc));
    ASSERT_TRUE(first.FetchQeIdentity());
    ASSERT_TRUE(first.FetchPckCrl(PckCa::kPlatform));
    ASSERT_TRUE(first.FetchRootCaCrl());
  }
  EXPECT_EQ(server_.TotalRequests(), 4);
  server_.Stop();  // anything not cached would now fail
  PcsClient second(options);
  auto tcb = second.FetchTcbInfo(kFmspc);
  ASSERT_TRUE(tcb) << tcb.error().message;
  EXPECT_TRUE(tcb->from_cache);
  EXPECT_EQ(tcb->body, tcb_info_);
  EXPECT_EQ(tcb->issuer_chain_pem, std::string(AsChars(tcb_chain_)));
  EXPECT_EQ(tcb->next_update, At("2023-07-18T08:42:58Z"));
  EXPECT_EQ(tcb->fetched_at, At("2023-07-01T00:00:00Z"));
  auto crl = second.FetchPckCrl(PckCa::kPlatform);
  ASSERT_TRUE(crl) << crl.error().message;
  EXPECT_EQ(crl->body, pck_crl_);
  EXPECT_TRUE(second.FetchQeIdentity());
  EXPECT_TRUE(second.FetchRootCaCrl());
}

TEST_F(PcsFetch, AlteredCacheFileIsFetchedAgain) {
  PcsOptions options = Options();
  options.cache_dir = cache_dir_;
  ASSERT_TRUE(PcsClient(options).FetchTcbInfo(kFmspc));
  for (const auto& entry : std::filesystem::directory_iterator(cache_dir_)) {
    ASSERT_TRUE(WriteFileAtomic(entry.path(), std::string_view("{\"Version\": 1, \"Body\": \"AAAA\"}")));
  }
  auto tcb = PcsClient(options).FetchTcbInfo(kFmspc);
  ASSERT_TRUE(tcb) << tcb.error().message;
  EXPECT_FALSE(tcb->from_cache);
  EXPECT_EQ(server_.RequestCount(kTcbInfoTarget), 2);
}

TEST_F(PcsFetch, RefreshedAfterNextUpdateOrMaxAge) {
  PcsOptions options = Options();
  options.max_age = std::chrono::hours(1);
  PcsClient client(options);
  ASSERT_TRUE(client.FetchQeIdentity());
  SetNow("2023-07-01T00:59:00Z");
  ASSERT_TRUE(client.FetchQeIdentity());
  EXPECT_EQ(server_.RequestCount(kQeIdentityTarget), 1);
  SetNow("2023-07-01T01:00:00Z");  // max age reached
  auto qe = client.FetchQeIdentity();
  ASSERT_TRUE(qe);
  EXPECT_FALSE(qe->from_cache);
  EXPECT_EQ(server_.RequestCount(kQeIdentityTarget), 2);
  // Past nextUpdate (2023-07-08T07:24:59Z), however recently fetched.
  SetNow("2023-07-08T07:25:00Z");
  ASSERT_TRUE(client.FetchQeIdentity());
  ASSERT_TRUE(client.FetchQeIdentity());
  EXPECT_EQ(server_.RequestCount(kQeIdentityTarget), 4);
}

TEST_F(PcsFetch, FailedRefreshFallsBackToACurrentCopyOnly) {
  PcsOptions options = Options();
  options.max_age = std::chrono::hours(1);
  options.max_attempts = 1;
  PcsClient client(options);
  ASSERT_TRUE(client.FetchPckCrl(PckCa::kPlatform));
  server_.Serve(kPlatformCrlTarget, ErrorReply(503));
  SetNow("2023-07-02T00:00:00Z");  // refresh due (max age), CRL still current
  auto crl = client.FetchPckCrl(PckCa::kPlatform);
  ASSERT_TRUE(crl) << crl.error().message;
  EXPECT_TRUE(crl->from_cache);
  EXPECT_EQ(crl->body, pck_crl_);
  ASSERT_TRUE(crl->refresh_error);
  EXPECT_EQ(crl->refresh_error->code, ErrorCode::kHttpStatus);
  EXPECT_EQ(server_.RequestCount(kPlatformCrlTarget), 2);
  SetNow("2023-07-08T07:27:52Z");  // the CRL's nextUpdate
  auto expired = client.FetchPckCrl(PckCa::kPlatform);
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error().code, ErrorCode::kHttpStatus);
  EXPECT_THAT(expired.error().message, HasSubstr("HTTP 503"));
  EXPECT_THAT(expired.error().message, HasSubstr("the cached copy expired at 2023-07-08T07:27:52Z"));
}

TEST_F(PcsFetch, ProxyIsUsedForEveryRequest) {
  PcsOptions options = Options();
  options.base_url = "http://127.0.0.1:1";  // never reached
  options.root_ca_crl_url = "http://127.0.0.1:1/IntelSGXRootCA.der";
  options.collateral_proxy_url = server_.BaseUrl();
  options.max_attempts = 1;
  PcsClient client(options);
  ASSERT_TRUE(client.FetchTcbInfo(kFmspc));
  ASSERT_TRUE(client.FetchQeIdentity());
  ASSERT_TRUE(client.FetchPckCrl(PckCa::kPlatform));
  ASSERT_TRUE(client.FetchRootCaCrl());
  EXPECT_EQ(server_.TotalRequests(), 4);
}

TEST_F(PcsFetch, NotFoundIsNotRetried) {
  PcsOptions options = Options();
  options.max_attempts = 3;
  PcsClient client(options);
  auto crl = client.FetchPckCrl(PckCa::kProcessor);  // not served: 404
  ASSERT_FALSE(crl);
  EXPECT_EQ(crl.error().code, ErrorCode::kNotFound);
  EXPECT_THAT(crl.error().message, HasSubstr(kProcessorCrlTarget));
  EXPECT_EQ(server_.RequestCount(kProcessorCrlTarget), 1);
}

TEST_F(PcsFetch, ServerErrorsAreRetriedThenReported) {
  PcsOptions options = Options();
  options.max_attempts = 3;
  PcsClient client(options);
  server_.FailNext(kTcbInfoTarget, 2, ErrorReply(500));
  auto tcb = client.FetchTcbInfo(kFmspc);
  ASSERT_TRUE(tcb) << tcb.error().message;
  EXPECT_EQ(server_.RequestCount(kTcbInfoTarget), 3);
  HttpServer::Reply failing = ErrorReply(500);
  failing.headers.emplace_back("Error-Message", "internal trouble");
  server_.Serve(kQeIdentityTarget, failing);
  auto qe = client.FetchQeIdentity();
  ASSERT_FALSE(qe);
  EXPECT_EQ(qe.error().code, ErrorCode::kHttpStatus);
  EXPECT_THAT(qe.error().message, HasSubstr("HTTP 500"));
  EXPECT_THAT(qe.error().message, HasSubstr("internal trouble"));
  EXPECT_THAT(qe.error().message, HasSubstr("after 3 attempts"));
  EXPECT_EQ(server_.RequestCount(kQeIdentityTarget), 3);
}

TEST_F(PcsFetch, GarbageIsRefusedAndNeverCached) {
  PcsClient client(Options());
  const auto expect_parse_error = [&](const std::string& target, HttpServer::Reply reply, auto fetch,
                                      std::string_view reason) {
    server_.Serve(target, std::move(reply));
    for (int i = 0; i < 2; ++i) {
      auto result = fetch();
      ASSERT_FALSE(result) << target;
      EXPECT_EQ(result.error().code, ErrorCode::kParse) << result.error().message;
      EXPECT_THAT(result.error().message, HasSubstr(reason));
    }
  };
  const auto tcb = [&] { return client.FetchTcbInfo(kFmspc); };
  const auto qe = [&] { return client.FetchQeIdentity(); };
  const auto crl = [&] { return client.FetchPckCrl(PckCa::kPlatform); };
  const auto root = [&] { return client.FetchRootCaCrl(); };
  const std::string html = "<html>maintenance</html>";
  expect_parse_error(kTcbInfoTarget, Reply(Bytes(html.begin(), html.end()), "TCB-Info-Issuer-Chain", tcb_chain_), tcb,
                     "not JSON");
  // The QE identity where TCB info belongs.
  expect_parse_error(kTcbInfoTarget, Reply(qe_identity_, "TCB-Info-Issuer-Chain", tcb_chain_), tcb,
                     "expected {\"tcbInfo\"");
  expect_parse_error(kTcbInfoTarget, Reply(tcb_info_), tcb, "no TCB-Info-Issuer-Chain header");
  expect_parse_error(kTcbInfoTarget, Reply(tcb_info_, "TCB-Info-Issuer-Chain", Bytes{'x', 'y'}), tcb,
                     "expected PEM certificates");
  Bytes broken_chain = tcb_chain_;
  broken_chain[100] ^= 0x01;
  expect_parse_error(kTcbInfoTarget, Reply(tcb_info_, "TCB-Info-Issuer-Chain", broken_chain), tcb, "PEM blocks gave");
  // Another platform's TCB info.
  std::string other(AsChars(tcb_info_));
  other.replace(other.find("50806f000000"), 12, "00606a000000");
  expect_parse_error(kTcbInfoTarget, Reply(Bytes(other.begin(), other.end()), "TCB-Info-Issuer-Chain", tcb_chain_), tcb,
                     "fmspc: expected 50806F000000");
  std::string no_signature(AsChars(qe_identity_));
  no_signature.replace(no_signature.find("\"signature\""), 11, "\"signatura\"");
  expect_parse_error(
      kQeIdentityTarget,
      Reply(Bytes(no_signature.begin(), no_signature.end()), "SGX-Enclave-Identity-Issuer-Chain", qe_chain_), qe,
      "signature is not 64 bytes of hex");
  expect_parse_error(kPlatformCrlTarget, Reply(tcb_chain_, "SGX-PCK-CRL-Issuer-Chain", crl_chain_), crl,
                     "expected a DER X.509 CRL");
  Bytes trailing = root_crl_;
  trailing.push_back(0);
  expect_parse_error(kRootCrlTarget, Reply(trailing), root, "1 trailing bytes");
  EXPECT_EQ(server_.RequestCount(kRootCrlTarget), 2);
}

TEST_F(PcsFetch, TooLargeIsRefused) {
  PcsOptions options = Options();
  options.max_response_size = 1000;
  auto tcb = PcsClient(options).FetchTcbInfo(kFmspc);  // 2401 bytes
  ASSERT_FALSE(tcb);
  EXPECT_EQ(tcb.error().code, ErrorCode::kParse);
  EXPECT_THAT(tcb.error().message, HasSubstr("exceeds the limit"));
}

// --- Outage with a cold cache: fails within the bound, with the reason. --------

TEST_F(PcsFetch, ConnectionRefusedFailsWithTheReason) {
  PcsOptions options = Options();
  options.max_attempts = 3;
  server_.Stop();
  const auto start = std::chrono::steady_clock::now();
  auto tcb = PcsClient(options).FetchTcbInfo(kFmspc);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(tcb);
  EXPECT_EQ(tcb.error().code, ErrorCode::kNetwork);
  EXPECT_THAT(tcb.error().message, HasSubstr("fetching TDX TCB info"));
  EXPECT_THAT(tcb.error().message, HasSubstr("after 3 attempts"));
  EXPECT_LT(elapsed, std::chrono::seconds(5));
}

TEST_F(PcsFetch, ServerThatNeverAnswersFailsWithinTheDeadline) {
  PcsOptions options = Options();
  options.timeout = milliseconds(10000);  // per attempt: longer than the deadline
  options.deadline = milliseconds(800);
  options.max_attempts = 5;
  server_.Hang(kQeIdentityTarget);
  const auto start = std::chrono::steady_clock::now();
  auto qe = PcsClient(options).FetchQeIdentity();
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(qe);
  EXPECT_EQ(qe.error().code, ErrorCode::kTimeout);
  EXPECT_THAT(qe.error().message, HasSubstr("timed out"));
  // The bound: within the configured timeout (generous margin for
  // loaded CI machines).
  EXPECT_LT(elapsed, std::chrono::seconds(5));
}

// --- The HTTP client's additions this client relies on. --------------------------

TEST_F(PcsFetch, HttpReturnsOnlyTheRequestedHeaders) {
  http::GetOptions get;
  get.response_headers = {"tcb-info-issuer-chain", "X-Absent"};
  auto response = http::Get(server_.BaseUrl() + kTcbInfoTarget, get);
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->headers.size(), 1u);
  EXPECT_EQ(response->headers["tcb-info-issuer-chain"], contrast::testing::PercentEncode(tcb_chain_));
  EXPECT_EQ(response->attempts, 1);
  EXPECT_TRUE(http::Get(server_.BaseUrl() + kTcbInfoTarget)->headers.empty());
}

}  // namespace
}  // namespace contrast::attest::tdx
