// TDX quote verification throughput against the raw ECDSA P-256 verify rate
// of the same OpenSSL, measured in the same run on one core.
//
// Full verification = parse the quote, parse and verify its PCK chain (leaf
// and PCK CA signatures, the embedded root compared with the pinned one,
// validity), both CRLs (signatures, currency, revocation), the QE report
// signature and attestation-key binding, the quote signature, the PCK SGX
// extension, the collateral's freshness and TCB-signing certificate, and the
// TCB evaluation. The collateral (tcbInfo, QE identity, issuer chain) is
// parsed and signature-checked once (VerifiedCollateral), as a Coordinator
// caches it; a Verifier caches the time-independent platform part (PCK chain
// decoded and its signatures, QE report signature and key binding), so a
// cached verification does one P-256 verify (the quote) plus the time and
// CRL checks, the parsing and the TCB evaluation. The vector is VECTORS.md D1 at 2023-07-01, whose documented
// result is "no TCB level matches": every check runs, and the benchmark
// requires exactly that outcome.
//
// The baseline is one EVP_PKEY_verify of a precomputed SHA-256 digest with
// the quote's attestation key (what `openssl speed ecdsap256` measures).
// Cold (no platform cache) verification does six P-256 verifications (two
// certificates, two CRLs, the QE report, the quote) and decodes three
// certificates, which dominates under OpenSSL 3.
//
// Usage: tdx_verify_bench [--testdata DIR] [google benchmark flags]
#include <openssl/evp.h>

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>

#include "attest/tdx/verify.h"
#include "common/files.h"
#include "common/time.h"
#include "crypto/hash.h"
#include "crypto/openssl.h"

namespace {

using namespace contrast;
using namespace contrast::attest::tdx;

std::string g_testdata = CONTRAST_TESTDATA_DIR;

struct Vectors {
  Bytes quote;
  Collateral collateral;
  std::optional<VerifiedCollateral> verified_collateral;
  crypto::EvpPkeyPtr attestation_key;
  Bytes signature_der;
  crypto::Sha256Digest digest{};
};

Bytes Read(const std::string& name) {
  auto bytes = ReadFile(g_testdata + "/tdx/" + name);
  if (!bytes) {
    std::fprintf(stderr, "cannot read %s below %s/tdx\n", name.c_str(), g_testdata.c_str());
    std::exit(1);
  }
  return *bytes;
}

const Vectors& LoadVectors() {
  static const Vectors vectors = [] {
    Vectors v;
    v.quote = Read("gotdxguest_tdx_prod_quote_SPR_E4.dat");
    v.collateral.tcb_info.assign(AsChars(Read("gotdxguest_sample_tcbInfo_response")));
    v.collateral.qe_identity.assign(AsChars(Read("gotdxguest_sample_qeIdentity_response")));
    v.collateral.issuer_chain.assign(AsChars(Read("gotdxguest_tcbinfo_issuer_chain.pem")));
    v.collateral.pck_crl = Read("gotdxguest_pckcrl");
    v.collateral.root_crl = Read("gotdxguest_rootcrl.der");
    auto verified = VerifyCollateral(v.collateral, IntelSgxRootCa());
    auto quote = ParseQuote(v.quote);
    if (!verified || !quote) {
      std::fprintf(stderr, "the D1 vectors do not parse\n");
      std::exit(1);
    }
    v.verified_collateral = std::move(*verified);
    // The attestation key as SPKI, and the quote signature as DER, for the
    // raw baseline.
    Bytes spki = *HexDecode("3059301306072a8648ce3d020106082a8648ce3d03010703420004");
    spki.insert(spki.end(), quote->attestation_key.begin(), quote->attestation_key.end());
    const unsigned char* p = spki.data();
    v.attestation_key.reset(d2i_PUBKEY(nullptr, &p, static_cast<long>(spki.size())));
    crypto::BignumPtr r(BN_bin2bn(quote->signature.data(), 32, nullptr));
    crypto::BignumPtr s(BN_bin2bn(quote->signature.data() + 32, 32, nullptr));
    crypto::EcdsaSigPtr sig(ECDSA_SIG_new());
    ECDSA_SIG_set0(sig.get(), r.release(), s.release());
    unsigned char* der = nullptr;
    const int len = i2d_ECDSA_SIG(sig.get(), &der);
    v.signature_der.assign(der, der + len);
    OPENSSL_free(der);
    v.digest = crypto::Sha256(quote->signed_region);
    return v;
  }();
  return vectors;
}

VerifyOptions D1Options() {
  VerifyOptions options;
  if (auto at = ParseRfc3339("2023-07-01T00:00:00Z")) options.at = *at;
  return options;
}

// Every check ran and the documented result came out.
bool IsDocumentedD1Result(const Result<VerifiedQuote>& result) {
  return !result && result.error().code == ErrorCode::kTcbTooLow &&
         result.error().message.find("no TCB level matches") != std::string::npos;
}

void BM_RawEcdsaP256Verify(benchmark::State& state) {
  const Vectors& v = LoadVectors();
  crypto::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new(v.attestation_key.get(), nullptr));
  EVP_PKEY_verify_init(ctx.get());
  for (auto _ : state) {
    const int ok =
        EVP_PKEY_verify(ctx.get(), v.signature_der.data(), v.signature_der.size(), v.digest.data(), v.digest.size());
    if (ok != 1) state.SkipWithError("raw verify failed");
    benchmark::DoNotOptimize(ok);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RawEcdsaP256Verify)->MinTime(2.0);

void BM_FullQuoteVerifyCached(benchmark::State& state) {
  const Vectors& v = LoadVectors();
  const VerifyOptions options = D1Options();
  const Verifier verifier;
  for (auto _ : state) {
    auto result = verifier.Verify(v.quote, *v.verified_collateral, options);
    if (!IsDocumentedD1Result(result)) state.SkipWithError("unexpected verification result");
    benchmark::DoNotOptimize(result);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["platform_verifications"] = static_cast<double>(verifier.platform_verifications());
}
BENCHMARK(BM_FullQuoteVerifyCached)->MinTime(2.0);

void BM_FullQuoteVerifyColdPlatform(benchmark::State& state) {
  const Vectors& v = LoadVectors();
  const VerifyOptions options = D1Options();
  for (auto _ : state) {
    auto result = Verify(v.quote, *v.verified_collateral, options);  // fresh Verifier: PCK chain parsed every time
    if (!IsDocumentedD1Result(result)) state.SkipWithError("unexpected verification result");
    benchmark::DoNotOptimize(result);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FullQuoteVerifyColdPlatform)->MinTime(1.0);

void BM_FullQuoteVerifyRawCollateral(benchmark::State& state) {
  const Vectors& v = LoadVectors();
  const VerifyOptions options = D1Options();
  for (auto _ : state) {
    auto result = Verify(v.quote, v.collateral, options);  // collateral parsed and verified every time
    if (!IsDocumentedD1Result(result)) state.SkipWithError("unexpected verification result");
    benchmark::DoNotOptimize(result);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FullQuoteVerifyRawCollateral)->MinTime(1.0);

class RateReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      const auto it = run.counters.find("items_per_second");
      if (it != run.counters.end()) rates[run.benchmark_name()] = it->second.value;
    }
    ConsoleReporter::ReportRuns(runs);
  }
  std::map<std::string, double> rates;
};

}  // namespace

int main(int argc, char** argv) {
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--testdata") == 0 && i + 1 < argc) {
      g_testdata = argv[++i];
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  RateReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  auto rate = [&](const std::string& prefix) {
    for (const auto& [name, value] : reporter.rates) {
      if (name.starts_with(prefix)) return value;
    }
    return 0.0;
  };
  const double raw = rate("BM_RawEcdsaP256Verify");
  const double cached = rate("BM_FullQuoteVerifyCached");
  const double cold = rate("BM_FullQuoteVerifyColdPlatform");
  const double uncached = rate("BM_FullQuoteVerifyRawCollateral");
  if (raw > 0 && cached > 0) {
    std::printf("\nraw ECDSA P-256 verify (OpenSSL %s): %.0f/s\n", OPENSSL_VERSION_STR, raw);
    std::printf("full TDX quote verification, collateral and platform cached: %.0f/s = %.1f %% of raw\n", cached,
                100.0 * cached / raw);
    if (cold > 0) {
      std::printf(
          "full TDX quote verification, collateral cached, PCK chain and QE report every time: %.0f/s = %.1f "
          "%% of raw\n",
          cold, 100.0 * cold / raw);
    }
    if (uncached > 0) {
      std::printf("full TDX quote verification, collateral parsed and verified each time: %.0f/s = %.1f %% of raw\n",
                  uncached, 100.0 * uncached / raw);
    }
  }
  benchmark::Shutdown();
  return 0;
}
