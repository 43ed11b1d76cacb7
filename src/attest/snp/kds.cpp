#include "attest/snp/kds.h"

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <optional>
#include <random>
#include <system_error>
#include <thread>
#include <utility>

#include "common/files.h"
#include "common/http.h"
#include "crypto/hash.h"
#include "crypto/openssl.h"

namespace contrast::attest::snp {
namespace {

using std::chrono::milliseconds;

Result<std::string_view> ProductSegment(Product product) {
  switch (product) {
    case Product::kMilan:
    case Product::kGenoa:
    case Product::kTurin: return ProductName(product);
    default:
      return Fail(ErrorCode::kInvalidArgument,
                  "product: expected Milan, Genoa or Turin, got " + std::string(ProductName(product)));
  }
}

// "vcek" (ASK side) or "vlek" (ASVK side).
Result<std::string_view> KeySegment(SigningKey kind) {
  switch (kind) {
    case SigningKey::kVcek: return std::string_view("vcek");
    case SigningKey::kVlek: return std::string_view("vlek");
    default:
      return Fail(ErrorCode::kInvalidArgument,
                  "signing key: expected VCEK or VLEK, got " + std::string(SigningKeyName(kind)));
  }
}

std::string TrimBase(std::string_view base_url) {
  while (!base_url.empty() && base_url.back() == '/') base_url.remove_suffix(1);
  return std::string(base_url);
}

Result<std::string> VcekPath(Product product, ByteView chip_id, const TcbParts& tcb) {
  auto name = ProductSegment(product);
  if (!name) return Fail(name.error());
  // Turin KDS URLs carry only the first 8 bytes of the chip id (its VCEKs'
  // hwID extension is 8 bytes too).
  const bool turin = product == Product::kTurin;
  const bool length_ok = chip_id.size() == 64 || (turin && chip_id.size() == 8);
  if (!length_ok) {
    return Fail(ErrorCode::kInvalidArgument, "chip id: expected 64 bytes" + std::string(turin ? " (or 8)" : "") +
                                                 ", got " + std::to_string(chip_id.size()));
  }
  const ByteView hwid = turin ? chip_id.first(8) : chip_id;
  if (std::all_of(hwid.begin(), hwid.end(), [](uint8_t b) { return b == 0; })) {
    return Fail(ErrorCode::kUnsupported,
                "chip id is masked (all zero): KDS cannot issue a VCEK without it; the VCEK (or a VLEK) must "
                "come with the evidence");
  }
  if (!turin && tcb.fmc != 0) {
    return Fail(ErrorCode::kInvalidArgument,
                "TCB fmc: " + std::string(*name) + " has no FMC SPL, expected 0, got " + std::to_string(tcb.fmc));
  }
  std::string path = "/vcek/v1/" + std::string(*name) + "/" + HexEncode(hwid) + "?";
  if (turin) path += "fmcSPL=" + std::to_string(tcb.fmc) + "&";
  path += "blSPL=" + std::to_string(tcb.bootloader) + "&teeSPL=" + std::to_string(tcb.tee) +
          "&snpSPL=" + std::to_string(tcb.snp) + "&ucodeSPL=" + std::to_string(tcb.microcode);
  return path;
}

// "/{vcek|vlek}/v1/{Product}/{leaf}".
Result<std::string> ProductPath(Product product, SigningKey kind, std::string_view leaf) {
  auto name = ProductSegment(product);
  if (!name) return Fail(name.error());
  auto key = KeySegment(kind);
  if (!key) return Fail(key.error());
  return "/" + std::string(*key) + "/v1/" + std::string(*name) + "/" + std::string(leaf);
}

// --- Shape checks: an error page or truncated body is never accepted. ------

Status CheckDerCertificate(ByteView body) {
  const unsigned char* p = body.data();
  crypto::X509Ptr cert(body.empty() ? nullptr : d2i_X509(nullptr, &p, static_cast<long>(body.size())));
  if (!cert) {
    crypto::ClearOpensslErrors();
    return Fail(ErrorCode::kParse, "expected a DER X.509 certificate, got " + std::to_string(body.size()) +
                                       " bytes that do not parse as one");
  }
  if (p != body.data() + body.size()) {
    return Fail(ErrorCode::kParse, "expected exactly one DER certificate, got " +
                                       std::to_string(body.data() + body.size() - p) + " trailing bytes");
  }
  return {};
}

Status CheckDerCrl(ByteView body) {
  const unsigned char* p = body.data();
  crypto::X509CrlPtr crl(body.empty() ? nullptr : d2i_X509_CRL(nullptr, &p, static_cast<long>(body.size())));
  if (!crl) {
    crypto::ClearOpensslErrors();
    return Fail(ErrorCode::kParse,
                "expected a DER X.509 CRL, got " + std::to_string(body.size()) + " bytes that do not parse as one");
  }
  if (p != body.data() + body.size()) {
    return Fail(ErrorCode::kParse, "expected exactly one DER CRL, got " +
                                       std::to_string(body.data() + body.size() - p) + " trailing bytes");
  }
  return {};
}

// KDS cert_chain: the intermediate then the root, both PEM.
Status CheckPemChain(ByteView body) {
  crypto::BioPtr bio(BIO_new_mem_buf(body.data(), static_cast<int>(body.size())));
  if (!bio) return Fail(crypto::OpensslError(ErrorCode::kInternal, "BIO_new_mem_buf"));
  int count = 0;
  while (crypto::X509Ptr cert{PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)}) ++count;
  crypto::ClearOpensslErrors();  // the loop always ends with "no start line"
  if (count != 2) {
    return Fail(ErrorCode::kParse, "expected two PEM certificates (intermediate, then root), got " +
                                       std::to_string(count) + " in " + std::to_string(body.size()) + " bytes");
  }
  return {};
}

bool CachedCopyIsFresh(const std::filesystem::path& path, std::chrono::seconds max_age) {
  std::error_code ec;
  const auto mtime = std::filesystem::last_write_time(path, ec);
  if (ec) return false;
  const auto age = std::filesystem::file_time_type::clock::now() - mtime;
  // A modification time in the future is not trusted to mean "fresh".
  return age >= std::filesystem::file_time_type::duration::zero() && age < max_age;
}

}  // namespace

KdsClient::KdsClient(KdsOptions options) : options_(std::move(options)) {
  options_.base_url = TrimBase(options_.base_url);
}

Result<std::string> KdsClient::VcekUrl(std::string_view base_url, Product product, ByteView chip_id,
                                       const TcbParts& reported_tcb) {
  auto path = VcekPath(product, chip_id, reported_tcb);
  if (!path) return Fail(path.error());
  return TrimBase(base_url) + *path;
}

Result<std::string> KdsClient::CertChainUrl(std::string_view base_url, Product product, SigningKey kind) {
  auto path = ProductPath(product, kind, "cert_chain");
  if (!path) return Fail(path.error());
  return TrimBase(base_url) + *path;
}

Result<std::string> KdsClient::CrlUrl(std::string_view base_url, Product product, SigningKey kind) {
  auto path = ProductPath(product, kind, "crl");
  if (!path) return Fail(path.error());
  return TrimBase(base_url) + *path;
}

Result<Bytes> KdsClient::FetchVcek(Product product, ByteView chip_id, const TcbParts& reported_tcb) const {
  auto path = VcekPath(product, chip_id, reported_tcb);
  if (!path) return Fail(path.error().Wrap("fetching VCEK"));
  return Fetch(Kind::kVcek, *path, "vcek-" + std::string(ProductName(product)), /*use_fresh_cache=*/true);
}

Result<Bytes> KdsClient::FetchVcekForReport(const Report& report, Product product) const {
  const SigningKey signer = report.Signer().signing_key;
  if (signer == SigningKey::kVlek) {
    return Fail(ErrorCode::kUnsupported,
                "the report is signed by a VLEK: VLEKs cannot be fetched from KDS (they need cloud-provider "
                "authentication) and must come with the evidence");
  }
  if (signer != SigningKey::kVcek) {
    return Fail(ErrorCode::kUnsupported, "the report's signing key is " + std::string(SigningKeyName(signer)) +
                                             ", not a VCEK: nothing to fetch");
  }
  const Product from_cpuid = report.ProductFromCpuid();
  if (product == Product::kUnknown) product = from_cpuid;
  if (product == Product::kUnknown) {
    return Fail(ErrorCode::kInvalidArgument,
                "the report does not name its product (version 2 or unrecognised CPUID): pass the product");
  }
  if (from_cpuid != Product::kUnknown && from_cpuid != product) {
    return Fail(ErrorCode::kProductMismatch, "product: requested " + std::string(ProductName(product)) +
                                                 ", the report's CPUID says " + std::string(ProductName(from_cpuid)));
  }
  return FetchVcek(product, report.chip_id, DecodeTcb(report.reported_tcb, product));
}

Result<Bytes> KdsClient::FetchCertChain(Product product, SigningKey kind) const {
  auto path = ProductPath(product, kind, "cert_chain");
  if (!path) return Fail(path.error().Wrap("fetching certificate chain"));
  return Fetch(Kind::kCertChain, *path,
               "cert_chain-" + std::string(SigningKeyName(kind)) + "-" + std::string(ProductName(product)),
               /*use_fresh_cache=*/true);
}

Result<Bytes> KdsClient::FetchCrl(Product product, SigningKey kind, CrlCache cache) const {
  auto path = ProductPath(product, kind, "crl");
  if (!path) return Fail(path.error().Wrap("fetching CRL"));
  return Fetch(Kind::kCrl, *path, "crl-" + std::string(SigningKeyName(kind)) + "-" + std::string(ProductName(product)),
               cache == CrlCache::kUseIfFresh);
}

std::string_view KdsClient::KindName(Kind kind) {
  switch (kind) {
    case Kind::kVcek: return "VCEK";
    case Kind::kCertChain: return "certificate chain";
    case Kind::kCrl: return "CRL";
  }
  return "object";
}

Status KdsClient::CheckShape(Kind kind, ByteView body) {
  switch (kind) {
    case Kind::kVcek: return CheckDerCertificate(body);
    case Kind::kCertChain: return CheckPemChain(body);
    case Kind::kCrl: return CheckDerCrl(body);
  }
  return Fail(ErrorCode::kInternal, "unknown KDS object kind");
}

Result<Bytes> KdsClient::Fetch(Kind kind, const std::string& relative, const std::string& cache_name,
                               bool use_fresh_cache) const {
  const std::string url = options_.base_url + relative;
  std::filesystem::path cache_path;
  if (!options_.cache_dir.empty()) {
    const std::string ext = kind == Kind::kCertChain ? ".pem" : ".der";
    cache_path = options_.cache_dir / (cache_name + "-" + HexEncode(crypto::Sha256(AsBytes(relative))) + ext);
  }

  if (!cache_path.empty() && use_fresh_cache &&
      (kind != Kind::kCrl || CachedCopyIsFresh(cache_path, options_.crl_max_age))) {
    // A missing, unreadable or malformed cache entry is simply re-fetched
    // (and overwritten below).
    if (auto cached = ReadFile(cache_path, options_.max_response_size); cached && CheckShape(kind, *cached)) {
      return std::move(*cached);
    }
  }

  auto body = Download(kind, url);
  if (!body || cache_path.empty()) return body;
  std::error_code ec;
  std::filesystem::create_directories(options_.cache_dir, ec);
  if (ec) {
    return Fail(ErrorCode::kIo,
                "cannot create KDS cache directory " + options_.cache_dir.string() + ": " + ec.message());
  }
  if (auto written = WriteFileAtomic(cache_path, *body); !written) {
    return Fail(written.error().Wrap("caching KDS response"));
  }
  return body;
}

Result<Bytes> KdsClient::Download(Kind kind, const std::string& url) const {
  http::GetOptions get;
  get.connect_timeout = options_.connect_timeout;
  get.total_timeout = options_.timeout;
  get.max_response_size = options_.max_response_size;
  http::RetryOptions retry;
  retry.max_attempts = options_.max_attempts;
  retry.initial_backoff = options_.initial_backoff;
  retry.max_backoff = options_.max_backoff;
  retry.deadline = options_.total_deadline;
  auto response = http::GetWithRetries(url, get, retry);
  if (!response) return Fail(response.error());
  const std::string attempts =
      response->attempts > 1 ? " (after " + std::to_string(response->attempts) + " attempts)" : "";
  if (response->status == 404) {
    return Fail(ErrorCode::kNotFound, "KDS has no " + std::string(KindName(kind)) + " at " + url + " (HTTP 404)" +
                                          (kind == Kind::kVcek ? ": check the product, chip id and TCB" : ""));
  }
  if (response->status != 200) {
    return Fail(ErrorCode::kHttpStatus,
                "KDS answered HTTP " + std::to_string(response->status) + " for " + url + attempts);
  }
  if (auto shape = CheckShape(kind, response->body); !shape) {
    return Fail(shape.error().Wrap("KDS response from " + url));
  }
  return std::move(response->body);
}

}  // namespace contrast::attest::snp
