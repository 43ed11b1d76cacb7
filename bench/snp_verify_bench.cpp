// SEV-SNP report verification throughput against the raw ECDSA P-384 verify
// rate of the same OpenSSL, measured in the same run on one core.
//
// Full verification = parse the report, look up the endorsement key's cached
// chain result (the RSA-4096 chain checks run once per VCEK), check validity
// times, TCB and chip id against the key, and verify the report's ECDSA P-384
// signature over 672 bytes. The baseline is one EVP_PKEY_verify of a
// precomputed SHA-384 digest with the same key (what `openssl speed ecdsap384`
// measures). The ratio is printed at the end; the target is >= 90 %.
//
// Usage: snp_verify_bench [--testdata DIR] [google benchmark flags]
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>

#include "attest/snp/abi.h"
#include "attest/snp/verify.h"
#include "common/files.h"
#include "common/time.h"
#include "crypto/hash.h"
#include "crypto/openssl.h"

namespace {

using namespace contrast;
using namespace contrast::attest::snp;

struct Vectors {
  Bytes report;
  Bytes vcek;
  crypto::EvpPkeyPtr vcek_key;
  Bytes signature_der;
  crypto::Sha384Digest digest{};
};

std::string g_testdata = CONTRAST_TESTDATA_DIR;

const Vectors& LoadVectors() {
  static const Vectors vectors = [] {
    Vectors v;
    auto report = ReadFile(g_testdata + "/snp/virtee_report_milan.bin");
    auto vcek = ReadFile(g_testdata + "/snp/virtee_vcek_milan.der");
    if (!report || !vcek) {
      std::fprintf(stderr, "cannot read the SNP vectors below %s\n", g_testdata.c_str());
      std::exit(1);
    }
    v.report = *report;
    v.vcek = *vcek;
    const unsigned char* p = v.vcek.data();
    crypto::X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(v.vcek.size())));
    v.vcek_key.reset(X509_get_pubkey(cert.get()));
    // DER-encode the report's little-endian r and s for the raw baseline.
    auto parsed = ParseReport(v.report);
    crypto::BignumPtr r(BN_lebin2bn(parsed->signature_r.data(), 72, nullptr));
    crypto::BignumPtr s(BN_lebin2bn(parsed->signature_s.data(), 72, nullptr));
    crypto::EcdsaSigPtr sig(ECDSA_SIG_new());
    ECDSA_SIG_set0(sig.get(), r.release(), s.release());
    unsigned char* der = nullptr;
    const int len = i2d_ECDSA_SIG(sig.get(), &der);
    v.signature_der.assign(der, der + len);
    OPENSSL_free(der);
    v.digest = crypto::Sha384(ByteView(v.report).first(kSignedRegionSize));
    return v;
  }();
  return vectors;
}

void BM_RawEcdsaP384Verify(benchmark::State& state) {
  const Vectors& v = LoadVectors();
  crypto::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new(v.vcek_key.get(), nullptr));
  EVP_PKEY_verify_init(ctx.get());
  for (auto _ : state) {
    const int ok =
        EVP_PKEY_verify(ctx.get(), v.signature_der.data(), v.signature_der.size(), v.digest.data(), v.digest.size());
    if (ok != 1) state.SkipWithError("raw verify failed");
    benchmark::DoNotOptimize(ok);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RawEcdsaP384Verify)->MinTime(2.0);

void BM_FullReportVerifyCachedChain(benchmark::State& state) {
  const Vectors& v = LoadVectors();
  const Verifier verifier;
  VerifyOptions options;
  options.product = Product::kMilan;
  if (auto at = ParseRfc3339("2025-06-01T00:00:00Z")) options.at = *at;
  if (!verifier.Verify(v.report, v.vcek, options)) {  // warms the chain cache
    state.SkipWithError("verification failed");
    return;
  }
  for (auto _ : state) {
    auto verified = verifier.Verify(v.report, v.vcek, options);
    if (!verified) state.SkipWithError(verified.error().message.c_str());
    benchmark::DoNotOptimize(verified);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["chain_verifications"] = static_cast<double>(verifier.chain_verifications());
}
BENCHMARK(BM_FullReportVerifyCachedChain)->MinTime(2.0);

void BM_FullReportVerifyColdChain(benchmark::State& state) {
  const Vectors& v = LoadVectors();
  VerifyOptions options;
  options.product = Product::kMilan;
  if (auto at = ParseRfc3339("2025-06-01T00:00:00Z")) options.at = *at;
  for (auto _ : state) {
    const Verifier verifier;  // empty cache: ARK, ASK and VCEK RSA-PSS checks every time
    auto verified = verifier.Verify(v.report, v.vcek, options);
    if (!verified) state.SkipWithError(verified.error().message.c_str());
    benchmark::DoNotOptimize(verified);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FullReportVerifyColdChain)->MinTime(1.0);

// Collects items/s per benchmark so main can print the ratio.
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
  // Take --testdata DIR out of argv before Google Benchmark sees it.
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
  const double raw = rate("BM_RawEcdsaP384Verify");
  const double full = rate("BM_FullReportVerifyCachedChain");
  const double cold = rate("BM_FullReportVerifyColdChain");
  if (raw > 0 && full > 0) {
    std::printf("\nraw ECDSA P-384 verify (OpenSSL %s): %.0f/s\n", OPENSSL_VERSION_STR, raw);
    std::printf("full SNP report verification, cached chain: %.0f/s = %.1f %% of raw (target >= 90 %%)\n", full,
                100.0 * full / raw);
    if (cold > 0) {
      std::printf("full SNP report verification, cold chain (3 RSA-4096 PSS checks): %.0f/s = %.1f %% of raw\n", cold,
                  100.0 * cold / raw);
    }
  }
  benchmark::Shutdown();
  return 0;
}
