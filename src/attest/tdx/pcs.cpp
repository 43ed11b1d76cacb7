#include "attest/tdx/pcs.h"

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <ctime>
#include <exception>
#include <system_error>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/files.h"
#include "common/http.h"
#include "common/text.h"
#include "crypto/hash.h"
#include "crypto/openssl.h"

namespace contrast::attest::tdx {
namespace {

using nlohmann::json;

constexpr std::string_view kTcbInfoPath = "/tdx/certification/v4/tcb";
constexpr std::string_view kQeIdentityPath = "/tdx/certification/v4/qe/identity";
constexpr std::string_view kPckCrlPath = "/sgx/certification/v4/pckcrl";
constexpr size_t kFmspcSize = 6;
// Intel's chains are the signing CA and the root; a few more leave room.
constexpr int kMaxChainCertificates = 8;
// PCS bodies are flat; anything deeper is not collateral.
constexpr int kMaxJsonDepth = 32;
// Cache files: the envelope format.
constexpr int kCacheFormatVersion = 1;

std::string TrimBase(std::string_view base_url) {
  while (!base_url.empty() && base_url.back() == '/') base_url.remove_suffix(1);
  return std::string(base_url);
}

// Splits "https://host[:port]/path?query" into origin and path-and-query.
Result<std::pair<std::string, std::string>> SplitUrl(std::string_view url) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos || scheme_end == 0) {
    return Fail(ErrorCode::kInvalidArgument, "not an absolute URL: " + PrintableExcerpt(url, 200));
  }
  const size_t path_start = url.find('/', scheme_end + 3);
  if (path_start == std::string_view::npos) return std::make_pair(std::string(url), std::string("/"));
  return std::make_pair(std::string(url.substr(0, path_start)), std::string(url.substr(path_start)));
}

// Percent-decoding as in RFC 3986 ('+' stays '+': it is a base64 character
// in PEM, and Intel encodes spaces as %20).
Result<std::string> PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  const auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size() || hex(text[i + 1]) < 0 || hex(text[i + 2]) < 0) {
      return Fail(ErrorCode::kParse, "invalid percent-encoding at offset " + std::to_string(i));
    }
    out += static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2]));
    i += 2;
  }
  return out;
}

// --- Shape checks -------------------------------------------------------------

Status CheckPemChain(std::string_view pem) {
  if (pem.find("-----BEGIN CERTIFICATE-----") == std::string_view::npos) {
    return Fail(ErrorCode::kParse, "issuer chain: expected PEM certificates, got " + PrintableExcerpt(pem));
  }
  crypto::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return Fail(crypto::OpensslError(ErrorCode::kInternal, "BIO_new_mem_buf"));
  int count = 0;
  while (crypto::X509Ptr cert{PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)}) ++count;
  crypto::ClearOpensslErrors();  // the loop always ends with "no start line" (or the bad block)
  // Every BEGIN line must have given a certificate: a corrupt one is not
  // silently skipped.
  size_t begins = 0;
  for (size_t at = pem.find("-----BEGIN"); at != std::string_view::npos; at = pem.find("-----BEGIN", at + 1)) ++begins;
  if (count == 0 || static_cast<size_t>(count) != begins || count > kMaxChainCertificates) {
    return Fail(ErrorCode::kParse, "issuer chain: expected 1 to " + std::to_string(kMaxChainCertificates) +
                                       " PEM certificates, " + std::to_string(begins) + " PEM blocks gave " +
                                       std::to_string(count));
  }
  return {};
}

Result<TimePoint> Asn1ToTimePoint(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) {
    crypto::ClearOpensslErrors();
    return Fail(ErrorCode::kParse, "unreadable time");
  }
  return TimePoint(std::chrono::seconds(timegm(&tm)));
}

Result<TimePoint> CheckDerCrl(ByteView body) {
  if (body.empty() || body.size() > static_cast<size_t>(LONG_MAX)) {
    return Fail(ErrorCode::kParse, "expected a DER X.509 CRL, got " + std::to_string(body.size()) + " bytes");
  }
  const unsigned char* p = body.data();
  crypto::X509CrlPtr crl(d2i_X509_CRL(nullptr, &p, static_cast<long>(body.size())));
  if (!crl) {
    crypto::ClearOpensslErrors();
    return Fail(ErrorCode::kParse,
                "expected a DER X.509 CRL, got " + std::to_string(body.size()) + " bytes that do not parse as one");
  }
  if (p != body.data() + body.size()) {
    return Fail(ErrorCode::kParse, "expected exactly one DER CRL, got " +
                                       std::to_string(body.data() + body.size() - p) + " trailing bytes");
  }
  const ASN1_TIME* next = X509_CRL_get0_nextUpdate(crl.get());
  if (next == nullptr) return Fail(ErrorCode::kParse, "the CRL has no nextUpdate");
  auto when = Asn1ToTimePoint(next);
  if (!when) return Fail(when.error().Wrap("CRL nextUpdate"));
  return *when;
}

// Thrown from the parser callback to stop at the depth limit.
struct TooDeep {};

// {"<member>": {..., "id": <id>, "nextUpdate": ...}, "signature": "<128 hex>"}.
Result<TimePoint> CheckSignedJson(ByteView body, std::string_view member, std::string_view id,
                                  std::string_view fmspc_hex) {
  json value;
  try {
    value = json::parse(body.begin(), body.end(), [](int depth, json::parse_event_t, json&) {
      if (depth > kMaxJsonDepth) throw TooDeep{};
      return true;
    });
  } catch (const TooDeep&) {
    return Fail(ErrorCode::kParse, "JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  } catch (const std::exception& e) {
    return Fail(ErrorCode::kParse, "not JSON: " + PrintableExcerpt(e.what(), 200));
  }
  const std::string expected = "expected {\"" + std::string(member) + "\": {...}, \"signature\": \"<hex>\"}";
  if (!value.is_object() || !value.contains(member) || !value[std::string(member)].is_object()) {
    return Fail(ErrorCode::kParse, expected + ", got " + PrintableExcerpt(AsChars(body)));
  }
  const auto signature = value.find("signature");
  if (signature == value.end() || !signature->is_string() || signature->get_ref<const std::string&>().size() != 128 ||
      !HexDecode(signature->get_ref<const std::string&>())) {
    return Fail(ErrorCode::kParse, expected + ": signature is not 64 bytes of hex");
  }
  const json& inner = value[std::string(member)];
  const auto actual_id = inner.find("id");
  if (actual_id == inner.end() || !actual_id->is_string() || actual_id->get_ref<const std::string&>() != id) {
    return Fail(ErrorCode::kParse, std::string(member) + ".id: expected \"" + std::string(id) + "\", got " +
                                       (actual_id == inner.end() ? "none" : PrintableExcerpt(actual_id->dump())));
  }
  if (!fmspc_hex.empty()) {
    const auto fmspc = inner.find("fmspc");
    std::string got = fmspc != inner.end() && fmspc->is_string() ? fmspc->get<std::string>() : "";
    std::transform(got.begin(), got.end(), got.begin(), [](unsigned char c) { return std::toupper(c); });
    if (got != fmspc_hex) {
      return Fail(ErrorCode::kParse, std::string(member) + ".fmspc: expected " + std::string(fmspc_hex) + ", got " +
                                         (fmspc == inner.end() ? "none" : PrintableExcerpt(fmspc->dump())));
    }
  }
  const auto next = inner.find("nextUpdate");
  if (next == inner.end() || !next->is_string()) {
    return Fail(ErrorCode::kParse, std::string(member) + ".nextUpdate: missing");
  }
  auto when = ParseRfc3339(next->get_ref<const std::string&>());
  if (!when) return Fail(when.error().Wrap(std::string(member) + ".nextUpdate"));
  return *when;
}

// The body's nextUpdate, when it has the shape of `kind`.
Result<TimePoint> CheckBody(PcsCollateralKind kind, ByteView body, std::string_view fmspc_hex) {
  switch (kind) {
    case PcsCollateralKind::kTcbInfo: return CheckSignedJson(body, "tcbInfo", "TDX", fmspc_hex);
    case PcsCollateralKind::kQeIdentity: return CheckSignedJson(body, "enclaveIdentity", "TD_QE", "");
    case PcsCollateralKind::kPckCrl:
    case PcsCollateralKind::kRootCaCrl: return CheckDerCrl(body);
  }
  return Fail(ErrorCode::kInternal, "unknown collateral kind");
}

bool IsFresh(const PcsCollateral& c, TimePoint now, std::chrono::seconds max_age) {
  // A download time in the future (the clock went back) is not trusted to
  // mean "fresh".
  return now < c.next_update && c.fetched_at <= now && now - c.fetched_at < max_age;
}

std::string KindFileName(PcsCollateralKind kind) {
  switch (kind) {
    case PcsCollateralKind::kTcbInfo: return "tdx-tcbinfo";
    case PcsCollateralKind::kQeIdentity: return "tdx-qeidentity";
    case PcsCollateralKind::kPckCrl: return "pckcrl";
    case PcsCollateralKind::kRootCaCrl: return "rootcacrl";
  }
  return "collateral";
}

}  // namespace

std::string_view PcsCollateralKindName(PcsCollateralKind kind) {
  switch (kind) {
    case PcsCollateralKind::kTcbInfo: return "TDX TCB info";
    case PcsCollateralKind::kQeIdentity: return "TD QE identity";
    case PcsCollateralKind::kPckCrl: return "PCK CRL";
    case PcsCollateralKind::kRootCaCrl: return "Intel root CA CRL";
  }
  return "collateral";
}

PcsClient::PcsClient(PcsOptions options) : options_(std::move(options)) {
  options_.base_url = TrimBase(options_.base_url);
  options_.collateral_proxy_url = TrimBase(options_.collateral_proxy_url);
}

TimePoint PcsClient::CurrentTime() const { return options_.now ? options_.now() : contrast::Now(); }

Result<PcsClient::Request> PcsClient::TcbInfoRequest(ByteView fmspc) const {
  if (fmspc.size() != kFmspcSize) {
    return Fail(ErrorCode::kInvalidArgument,
                "FMSPC: expected " + std::to_string(kFmspcSize) + " bytes, got " + std::to_string(fmspc.size()));
  }
  std::string hex = HexEncode(fmspc);
  std::transform(hex.begin(), hex.end(), hex.begin(), [](unsigned char c) { return std::toupper(c); });
  return Request{PcsCollateralKind::kTcbInfo, options_.base_url, std::string(kTcbInfoPath) + "?fmspc=" + hex,
                 "TCB-Info-Issuer-Chain", hex};
}

PcsClient::Request PcsClient::QeIdentityRequest() const {
  return Request{PcsCollateralKind::kQeIdentity, options_.base_url, std::string(kQeIdentityPath),
                 "SGX-Enclave-Identity-Issuer-Chain", ""};
}

PcsClient::Request PcsClient::PckCrlRequest(PckCa ca) const {
  const std::string which = ca == PckCa::kPlatform ? "platform" : "processor";
  return Request{PcsCollateralKind::kPckCrl, options_.base_url,
                 std::string(kPckCrlPath) + "?ca=" + which + "&encoding=der", "SGX-PCK-CRL-Issuer-Chain", ""};
}

Result<PcsClient::Request> PcsClient::RootCaCrlRequest() const {
  auto parts = SplitUrl(options_.root_ca_crl_url);
  if (!parts) return Fail(parts.error().Wrap("root CA CRL URL"));
  return Request{PcsCollateralKind::kRootCaCrl, parts->first, parts->second, "", ""};
}

std::string PcsClient::UrlOf(const Request& request) const {
  const std::string& origin = options_.collateral_proxy_url.empty() ? request.origin : options_.collateral_proxy_url;
  return origin + request.path_and_query;
}

Result<std::string> PcsClient::TcbInfoUrl(ByteView fmspc) const {
  auto request = TcbInfoRequest(fmspc);
  if (!request) return Fail(request.error());
  return UrlOf(*request);
}

std::string PcsClient::QeIdentityUrl() const { return UrlOf(QeIdentityRequest()); }

std::string PcsClient::PckCrlUrl(PckCa ca) const { return UrlOf(PckCrlRequest(ca)); }

Result<std::string> PcsClient::RootCaCrlUrl() const {
  auto request = RootCaCrlRequest();
  if (!request) return Fail(request.error());
  return UrlOf(*request);
}

Result<PcsCollateral> PcsClient::FetchTcbInfo(ByteView fmspc) {
  auto request = TcbInfoRequest(fmspc);
  if (!request) return Fail(request.error().Wrap("fetching TDX TCB info"));
  return Fetch(*request);
}

Result<PcsCollateral> PcsClient::FetchQeIdentity() { return Fetch(QeIdentityRequest()); }

Result<PcsCollateral> PcsClient::FetchPckCrl(PckCa ca) { return Fetch(PckCrlRequest(ca)); }

Result<PcsCollateral> PcsClient::FetchRootCaCrl() {
  auto request = RootCaCrlRequest();
  if (!request) return Fail(request.error().Wrap("fetching the Intel root CA CRL"));
  return Fetch(*request);
}

std::filesystem::path PcsClient::CachePath(const Request& request) const {
  return options_.cache_dir /
         (KindFileName(request.kind) + "-" + HexEncode(crypto::Sha256(AsBytes(request.path_and_query))) + ".json");
}

std::optional<PcsCollateral> PcsClient::Cached(const Request& request) {
  {
    std::lock_guard lock(mu_);
    if (auto it = memory_.find(request.path_and_query); it != memory_.end()) {
      PcsCollateral out = it->second;
      out.from_cache = true;
      return out;
    }
  }
  if (options_.cache_dir.empty()) return std::nullopt;
  // The file is ours but read like anything else from disk: a missing,
  // truncated or altered entry is simply not used (and replaced on success).
  auto text = ReadTextFile(CachePath(request), 4 * options_.max_response_size + 65536);
  if (!text) return std::nullopt;
  const json envelope = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!envelope.is_object()) return std::nullopt;
  const auto string_at = [&envelope](const char* key) -> std::optional<std::string> {
    const auto it = envelope.find(key);
    if (it == envelope.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  const auto version = envelope.find("Version");
  const auto path = string_at("Path");
  const auto fetched_at = string_at("FetchedAt");
  const auto chain = string_at("IssuerChain");
  const auto body64 = string_at("Body");
  if (version == envelope.end() || *version != kCacheFormatVersion || path != request.path_and_query || !fetched_at ||
      !chain || !body64) {
    return std::nullopt;
  }
  auto when = ParseRfc3339(*fetched_at);
  auto body = Base64Decode(*body64);
  if (!when || !body) return std::nullopt;
  auto next = CheckBody(request.kind, *body, request.fmspc_hex);
  if (!next) return std::nullopt;
  if (!request.issuer_chain_header.empty() && !CheckPemChain(*chain)) return std::nullopt;
  PcsCollateral out{request.kind, std::move(*body), *chain, *next, *when, true, std::nullopt};
  std::lock_guard lock(mu_);
  memory_[request.path_and_query] = out;
  return out;
}

Status PcsClient::Store(const Request& request, const PcsCollateral& collateral) {
  {
    std::lock_guard lock(mu_);
    memory_[request.path_and_query] = collateral;
  }
  if (options_.cache_dir.empty()) return {};
  std::error_code ec;
  std::filesystem::create_directories(options_.cache_dir, ec);
  if (ec) {
    return Fail(ErrorCode::kIo,
                "cannot create the PCS cache directory " + options_.cache_dir.string() + ": " + ec.message());
  }
  json envelope = {{"Version", kCacheFormatVersion},
                   {"Path", request.path_and_query},
                   {"FetchedAt", FormatRfc3339(collateral.fetched_at)},
                   {"IssuerChain", collateral.issuer_chain_pem},
                   {"Body", Base64Encode(collateral.body)}};
  if (auto written = WriteFileAtomic(CachePath(request), envelope.dump(2) + "\n"); !written) {
    return Fail(written.error().Wrap("caching " + std::string(PcsCollateralKindName(request.kind))));
  }
  return {};
}

Result<PcsCollateral> PcsClient::Download(const Request& request, TimePoint now) const {
  const std::string url = UrlOf(request);
  const std::string what(PcsCollateralKindName(request.kind));
  http::GetOptions get;
  get.connect_timeout = options_.connect_timeout;
  get.total_timeout = options_.timeout;
  get.max_response_size = options_.max_response_size;
  get.response_headers = {"Error-Code", "Error-Message"};
  if (!request.issuer_chain_header.empty()) get.response_headers.push_back(request.issuer_chain_header);
  http::RetryOptions retry;
  retry.max_attempts = options_.max_attempts;
  retry.initial_backoff = options_.initial_backoff;
  retry.max_backoff = options_.max_backoff;
  retry.deadline = options_.deadline;

  auto response = http::GetWithRetries(url, get, retry);
  if (!response) return Fail(response.error().Wrap("fetching " + what));
  if (response->status != 200) {
    std::string detail;
    for (const char* header : {"Error-Code", "Error-Message"}) {
      if (auto it = response->headers.find(header); it != response->headers.end()) {
        detail += std::string(detail.empty() ? ": " : ", ") + header + " " + PrintableExcerpt(it->second, 200);
      }
    }
    const std::string attempts =
        response->attempts > 1 ? " (after " + std::to_string(response->attempts) + " attempts)" : "";
    if (response->status == 404) {
      return Fail(ErrorCode::kNotFound, "Intel PCS has no " + what + " at " + url + " (HTTP 404" + detail + ")" +
                                            (request.kind == PcsCollateralKind::kTcbInfo ? ": check the FMSPC" : ""));
    }
    return Fail(ErrorCode::kHttpStatus, "Intel PCS answered HTTP " + std::to_string(response->status) + " for " + what +
                                            " at " + url + detail + attempts);
  }
  auto next = CheckBody(request.kind, response->body, request.fmspc_hex);
  if (!next) return Fail(next.error().Wrap(what + " from " + url));
  PcsCollateral out{request.kind, std::move(response->body), "", *next, now, false, std::nullopt};
  if (!request.issuer_chain_header.empty()) {
    const auto it = response->headers.find(request.issuer_chain_header);
    if (it == response->headers.end() || it->second.empty()) {
      return Fail(ErrorCode::kParse,
                  what + " from " + url + ": the response has no " + request.issuer_chain_header + " header");
    }
    auto chain = PercentDecode(it->second);
    if (!chain) return Fail(chain.error().Wrap(what + " from " + url + ": " + request.issuer_chain_header));
    if (auto shape = CheckPemChain(*chain); !shape) {
      return Fail(shape.error().Wrap(what + " from " + url + ": " + request.issuer_chain_header));
    }
    out.issuer_chain_pem = std::move(*chain);
  }
  return out;
}

Result<PcsCollateral> PcsClient::Fetch(const Request& request) {
  const TimePoint now = CurrentTime();
  std::optional<PcsCollateral> cached = Cached(request);
  if (cached && IsFresh(*cached, now, options_.max_age)) return std::move(*cached);

  auto downloaded = Download(request, now);
  if (!downloaded) {
    if (cached && now < cached->next_update) {
      // Still current: a PCS outage must not stop verification while the
      // collateral Intel published is valid.
      cached->refresh_error = downloaded.error();
      return std::move(*cached);
    }
    Error error = downloaded.error();
    if (cached) error.message += " (the cached copy expired at " + FormatRfc3339(cached->next_update) + ")";
    return Fail(std::move(error));
  }
  if (auto stored = Store(request, *downloaded); !stored) return Fail(stored.error());
  return downloaded;
}

}  // namespace contrast::attest::tdx
