// `contrast attestation verify --quote`: Intel TDX quotes from files, with
// Intel PCS collateral from files or fetched (and cached) from a PCS stand-in.
#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/app.h"
#include "support/cli_run.h"
#include "support/http_server.h"
#include "support/testdata.h"

namespace contrast::cli {
namespace {

using contrast::testing::CliRun;
using contrast::testing::Contrast;
using contrast::testing::HttpServer;
using ::testing::HasSubstr;

std::string Tdx(const std::string& name) { return (contrast::testing::TestdataDir() / "tdx" / name).string(); }

// D1 (VECTORS.md): the v4 quote with its collateral, at its documented time.
std::vector<std::string> D1Args(const std::string& quote, const std::string& at = "2023-07-01T00:00:00Z") {
  return {"attestation",
          "verify",
          "--quote",
          quote,
          "--tcb-info",
          Tdx("gotdxguest_sample_tcbInfo_response"),
          "--qe-identity",
          Tdx("gotdxguest_sample_qeIdentity_response"),
          "--collateral-chain",
          Tdx("gotdxguest_tcbinfo_issuer_chain.pem"),
          "--pck-crl",
          Tdx("gotdxguest_pckcrl"),
          "--root-crl",
          Tdx("gotdxguest_rootcrl.der"),
          "--at",
          at,
          "--json"};
}

nlohmann::json Json(const CliRun& r) {
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << r.out << r.err;
  return j;
}

// The code of the first failed check.
std::string FailureCode(const nlohmann::json& j) {
  for (const auto& c : j["verification"]["checks"]) {
    if (!c["ok"].get<bool>()) return c["code"];
  }
  return "";
}

TEST(AttestationVerifyQuote, RealV4QuoteIsAuthenticAndItsTcbMatchesNoLevel) {
  CONTRAST_REQUIRE_TESTDATA();
  const CliRun r = Contrast(D1Args(Tdx("gotdxguest_tdx_prod_quote_SPR_E4.dat")));
  EXPECT_EQ(r.code, kExitFailed) << r.out << r.err;
  const nlohmann::json j = Json(r);
  EXPECT_EQ(j["verification"]["authentic"], true);
  EXPECT_EQ(j["verification"]["tcb_status"], "NotSupported");
  EXPECT_EQ(j["verdict"], "invalid");
  EXPECT_EQ(FailureCode(j), "tcb-too-low");
  EXPECT_EQ(j["quote"]["version"], 4);
  EXPECT_EQ(j["quote"]["mr_td"],
            "6363b8043668a3ad953278e10389574d326c6749fb78aa810ecd9336923db86f22fc00b8dcd404bc10d5e119d7215cbb");
  EXPECT_THAT(r.out, HasSubstr("no TCB level matches"));
}

TEST(AttestationVerifyQuote, TheSameQuoteLaterHasAnExpiredPckCertificate) {
  CONTRAST_REQUIRE_TESTDATA();
  const nlohmann::json j = Json(Contrast(D1Args(Tdx("gotdxguest_tdx_prod_quote_SPR_E4.dat"), "2053-07-01T00:00:00Z")));
  EXPECT_EQ(j["verification"]["authentic"], false);
  EXPECT_EQ(FailureCode(j), "certificate-expired");
  EXPECT_TRUE(j["verification"]["tcb_status"].is_null());
}

TEST(AttestationVerifyQuote, EveryNegativeVectorFailsWithItsReason) {
  CONTRAST_REQUIRE_TESTDATA();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"gotdxguest_v4_version_byte0_eq3.dat", "unsupported"},
      {"gotdxguest_v4_signed_data_size_0x278_eq10.dat", "parse"},
      {"gotdxguest_v4_certchain_0x1343_eq32.dat", "certificate-invalid"},
      {"gotdxguest_v4_rootcert_0x1329_eq32.dat", "untrusted-root"},
      {"gotdxguest_v4_intermediate_0xF5F_eq32.dat", "signature-invalid"},
      {"gotdxguest_v4_pckleaf_0xB77_eq32.dat", "signature-invalid"},
      {"gotdxguest_v4_header_0x1E_eq32.dat", "signature-invalid"},
      {"gotdxguest_v4_body_0x3C_eq32.dat", "signature-invalid"},
  };
  for (const auto& [file, code] : cases) {
    const CliRun r = Contrast(D1Args(Tdx("negative/" + file)));
    EXPECT_EQ(r.code, kExitFailed) << file << r.err;
    const nlohmann::json j = Json(r);
    EXPECT_EQ(j["verification"]["authentic"], false) << file;
    EXPECT_EQ(FailureCode(j), code) << file << ": " << r.out;
    EXPECT_EQ(j["verdict"], "invalid") << file;
  }
}

TEST(AttestationVerifyQuote, AVersionFiveQuoteNeedsATimeValidTcbSigningCertificate) {
  CONTRAST_REQUIRE_TESTDATA();
  // D2's collateral was issued in 2026 under a TCB signing key whose
  // certificate in the vectors expired on 2025-05-21 (VECTORS.md D2): at the
  // documented time the chain is refused rather than trusted.
  const CliRun r = Contrast({"attestation", "verify", "--quote", Tdx("gotdxguest_quote_v5_sample.dat"), "--tcb-info",
                             Tdx("gotdxguest_sample_tcbinfo_response_v5"), "--qe-identity",
                             Tdx("gotdxguest_sample_qeIdentity_response"), "--collateral-chain",
                             Tdx("gotdxguest_tcbinfo_issuer_chain.pem"), "--at", "2026-02-03T00:00:00Z", "--json"});
  const nlohmann::json j = Json(r);
  EXPECT_EQ(j["quote"]["version"], 5);
  EXPECT_EQ(j["quote"]["body_type"], 3);
  // The quote itself is genuine; only the collateral cannot be trusted then.
  EXPECT_EQ(j["verification"]["authentic"], true);
  EXPECT_TRUE(j["verification"]["tcb_status"].is_null());
  EXPECT_EQ(j["verdict"], "invalid");
  EXPECT_EQ(FailureCode(j), "certificate-expired");
  EXPECT_THAT(r.out, HasSubstr("TCB Signing certificate is expired"));
}

TEST(AttestationVerifyQuote, TrusteeQuotesAreGenuineButTheirCollateralChainHasExpired) {
  CONTRAST_REQUIRE_TESTDATA();
  // VECTORS.md D3: quote signatures and PCK chains verify; the TCB signing
  // certificate of the given chain expired on 2025-05-21, before the
  // collateral (2025-10/11) was issued.
  for (const std::string quote : {"trustee_tdx_quote_4.dat", "trustee_tdx_quote_5.dat", "trustee_tdx_quote_6.dat"}) {
    const nlohmann::json j =
        Json(Contrast({"attestation", "verify", "--quote", Tdx(quote), "--tcb-info", Tdx("trustee_tcbInfo.json"),
                       "--qe-identity", Tdx("trustee_enclaveIdentity.json"), "--collateral-chain",
                       Tdx("gotdxguest_tcbinfo_issuer_chain.pem"), "--at", "2025-11-01T00:00:00Z", "--json"}));
    EXPECT_EQ(j["verification"]["authentic"], true) << quote;
    EXPECT_EQ(FailureCode(j), "certificate-expired") << quote;
    EXPECT_EQ(j["verdict"], "invalid") << quote;
    EXPECT_EQ(j["quote"]["debug"], quote == "trustee_tdx_quote_4.dat") << quote;
  }
}

TEST(AttestationVerifyQuote, UsageErrors) {
  CONTRAST_REQUIRE_TESTDATA();
  const std::string quote = Tdx("gotdxguest_tdx_prod_quote_SPR_E4.dat");
  // Collateral files go together.
  EXPECT_EQ(
      Contrast({"attestation", "verify", "--quote", quote, "--tcb-info", Tdx("gotdxguest_sample_tcbInfo_response")})
          .code,
      kExitUsage);
  auto args = D1Args(quote);
  args.insert(args.end(), {"--accept-tcb-status", "Revoked"});
  EXPECT_EQ(Contrast(args).code, kExitUsage);
  args = D1Args(quote);
  args.insert(args.end(), {"--accept-tcb-status", "Fine"});
  EXPECT_EQ(Contrast(args).code, kExitUsage);
  EXPECT_EQ(Contrast({"attestation", "verify", "--quote", quote, "--report", quote}).code, kExitUsage);
  EXPECT_EQ(Contrast({"attestation", "verify", "--quote", "/nonexistent/quote"}).code, kExitUsage);
  // A TDX-only flag without a quote.
  EXPECT_EQ(Contrast({"attestation", "verify", "--report", quote, "--pck-crl", quote}).code, kExitUsage);
}

TEST(AttestationVerifyQuote, WithoutCollateralFilesItFetchesFromPcsOnceAndThenUsesTheCache) {
  CONTRAST_REQUIRE_TESTDATA();
  HttpServer pcs;
  ASSERT_TRUE(pcs.ok());
  const Bytes chain = contrast::testing::ReadTestdata("tdx/gotdxguest_tcbinfo_issuer_chain.pem");
  const Bytes crl_chain = contrast::testing::ReadTestdata("tdx/gotdxguest_pckcrl_issuer_chain.pem");
  auto reply = [](const Bytes& body, const std::string& header, const Bytes& header_chain) {
    HttpServer::Reply r;
    r.body = body;
    if (!header.empty()) r.headers.emplace_back(header, contrast::testing::PercentEncode(header_chain));
    return r;
  };
  const std::string tcb_target = "/tdx/certification/v4/tcb?fmspc=50806F000000";
  const std::string qe_target = "/tdx/certification/v4/qe/identity";
  const std::string crl_target = "/sgx/certification/v4/pckcrl?ca=platform&encoding=der";
  const std::string root_target = "/IntelSGXRootCA.der";
  pcs.Serve(tcb_target, reply(contrast::testing::ReadTestdata("tdx/gotdxguest_sample_tcbInfo_response"),
                              "TCB-Info-Issuer-Chain", chain));
  pcs.Serve(qe_target, reply(contrast::testing::ReadTestdata("tdx/gotdxguest_sample_qeIdentity_response"),
                             "SGX-Enclave-Identity-Issuer-Chain", chain));
  pcs.Serve(crl_target,
            reply(contrast::testing::ReadTestdata("tdx/gotdxguest_pckcrl"), "SGX-PCK-CRL-Issuer-Chain", crl_chain));
  pcs.Serve(root_target, reply(contrast::testing::ReadTestdata("tdx/gotdxguest_rootcrl.der"), "", {}));

  const std::filesystem::path cache =
      std::filesystem::temp_directory_path() / ("contrast-tdx-cli-" + std::to_string(::getpid()));
  std::filesystem::remove_all(cache);
  // Everything, the root CA CRL included, through the proxy: what an
  // air-gapped cluster configures.
  const std::vector<std::string> args = {"attestation",
                                         "verify",
                                         "--quote",
                                         Tdx("gotdxguest_tdx_prod_quote_SPR_E4.dat"),
                                         "--collateral-proxy",
                                         pcs.BaseUrl(),
                                         "--cache-dir",
                                         cache.string(),
                                         "--at",
                                         "2023-07-01T00:00:00Z",
                                         "--json"};
  for (int run = 0; run < 2; ++run) {
    const CliRun r = Contrast(args);
    const nlohmann::json j = Json(r);
    EXPECT_EQ(j["verification"]["authentic"], true) << r.out << r.err;
    EXPECT_EQ(j["verification"]["tcb_status"], "NotSupported") << r.out;
  }
  EXPECT_EQ(pcs.RequestCount(tcb_target), 1);
  EXPECT_EQ(pcs.RequestCount(qe_target), 1);
  EXPECT_EQ(pcs.RequestCount(crl_target), 1);
  EXPECT_EQ(pcs.RequestCount(root_target), 1);
  std::filesystem::remove_all(cache);
}

}  // namespace
}  // namespace contrast::cli
