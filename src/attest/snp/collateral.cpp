#include "attest/snp/collateral.h"

#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <system_error>
#include <utility>

#include "common/files.h"
#include "crypto/hash.h"
#include "crypto/openssl.h"

namespace contrast::attest::snp {
namespace {

using SteadyClock = std::chrono::steady_clock;

// A fleet has far fewer distinct VCEKs; beyond this the memory cache starts
// over rather than grow without bound.
constexpr size_t kMaxCachedVceks = 4096;

struct CachedCrl {
  crypto::Crl crl;
  TimePoint fetched_at;
};

struct Failure {
  Error error;
  SteadyClock::time_point at;
};

// One fetch per key at a time: later callers wait for the first one's result.
template <typename T>
class Coalescer {
 public:
  template <typename Work>
  Result<T> Run(const std::string& key, Work&& work) {
    std::unique_lock lock(mutex_);
    if (auto it = in_flight_.find(key); it != in_flight_.end()) {
      std::shared_future<Result<T>> pending = it->second;
      lock.unlock();
      return pending.get();
    }
    std::promise<Result<T>> promise;
    in_flight_.emplace(key, promise.get_future().share());
    lock.unlock();
    Result<T> result = work();  // never throws: Result-returning code only
    promise.set_value(result);
    lock.lock();
    in_flight_.erase(key);
    return result;
  }

 private:
  std::mutex mutex_;
  std::map<std::string, std::shared_future<Result<T>>> in_flight_;
};

KdsOptions ClientOptions(const CollateralOptions& options, const std::string& base_url) {
  KdsOptions kds;
  kds.base_url = base_url;
  // This source keeps its own caches (memory and disk), so it knows what
  // came from the network.
  kds.cache_dir.clear();
  kds.connect_timeout = options.connect_timeout;
  kds.timeout = options.fetch_deadline;
  kds.total_deadline = options.fetch_deadline;
  kds.max_attempts = std::max(options.max_attempts, 1);
  kds.initial_backoff = std::min(std::chrono::milliseconds(250), options.fetch_deadline / 8);
  kds.max_backoff = options.fetch_deadline / 2;
  kds.max_response_size = options.max_response_size;
  return kds;
}

// The age of a cache file by its modification time (zero if in the future).
std::optional<std::chrono::seconds> FileAge(const std::filesystem::path& path) {
  std::error_code ec;
  const auto mtime = std::filesystem::last_write_time(path, ec);
  if (ec) return std::nullopt;
  const auto age = std::filesystem::file_time_type::clock::now() - mtime;
  return std::max(std::chrono::duration_cast<std::chrono::seconds>(age), std::chrono::seconds(0));
}

std::string CrlSide(Product product, SigningKey kind) {
  return std::string(ProductName(product)) + " " + std::string(SigningKeyName(kind));
}

}  // namespace

struct CollateralSource::Impl {
  CollateralOptions options;
  std::string base_url;
  KdsClient client;

  Coalescer<Bytes> vcek_fetches;
  Coalescer<crypto::Crl> crl_fetches;

  mutable std::mutex mutex;
  std::map<std::string, Bytes> vceks;     // by KDS request path; guarded by mutex
  std::map<std::string, CachedCrl> crls;  // by CrlKey; guarded by mutex
  std::map<std::string, Failure> failures;
  CollateralFetchCounts counts;

  explicit Impl(CollateralOptions o)
      : options(std::move(o)),
        base_url(options.collateral_proxy_url.empty() ? options.kds_base_url : options.collateral_proxy_url),
        client(ClientOptions(options, base_url)) {}

  TimePoint Wallclock() const { return options.clock ? options.clock() : Now(); }

  // A recent failure of `key` (within failure_cooldown), to return at once.
  std::optional<Error> RecentFailure(const std::string& key) {
    std::lock_guard lock(mutex);
    auto it = failures.find(key);
    if (it == failures.end()) return std::nullopt;
    const auto since = SteadyClock::now() - it->second.at;
    if (since >= options.failure_cooldown) return std::nullopt;
    Error error = it->second.error;
    error.message += " (failed " +
                     std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(since).count()) +
                     " ms ago; not retried for " + std::to_string(options.failure_cooldown.count()) + " ms)";
    return error;
  }

  void RecordFetch(bool vcek, const std::string& key, const Status& outcome) {
    std::lock_guard lock(mutex);
    ++(vcek ? counts.vcek : counts.crl);
    if (outcome) {
      failures.erase(key);
    } else {
      ++counts.failed;
      failures[key] = Failure{outcome.error(), SteadyClock::now()};
    }
  }

  std::filesystem::path CachePath(const std::string& name) const {
    return options.cache_dir.empty() ? std::filesystem::path() : options.cache_dir / name;
  }

  // Best effort: a cache that cannot be written costs a fetch next time, not
  // this verification.
  void WriteCache(const std::filesystem::path& path, ByteView body) const {
    if (path.empty()) return;
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    if (!ec) (void)WriteFileAtomic(path, body);
  }

  // --- VCEK --------------------------------------------------------------

  std::optional<Bytes> MemoryVcek(const std::string& key) {
    std::lock_guard lock(mutex);
    auto it = vceks.find(key);
    if (it == vceks.end()) return std::nullopt;
    return it->second;
  }

  void RememberVcek(const std::string& key, const Bytes& der) {
    std::lock_guard lock(mutex);
    if (vceks.size() >= kMaxCachedVceks) vceks.clear();
    vceks[key] = der;
  }

  Result<Bytes> FetchVcek(const Report& report, Product product, const std::string& key,
                          const std::filesystem::path& cache_path) {
    if (auto hit = MemoryVcek(key)) return std::move(*hit);
    if (!cache_path.empty()) {
      // Only a well-formed single certificate counts; anything else is
      // re-fetched and overwritten.
      if (auto cached = ReadFile(cache_path, options.max_response_size);
          cached && crypto::Certificate::ParseDer(*cached)) {
        RememberVcek(key, *cached);
        return std::move(*cached);
      }
      crypto::ClearOpensslErrors();
    }
    if (auto recent = RecentFailure("vcek:" + key)) return Fail(recent->Wrap("fetching the VCEK"));
    auto der = client.FetchVcekForReport(report, product);
    RecordFetch(true, "vcek:" + key, der ? Status() : Status(Fail(der.error())));
    if (!der) return Fail(der.error().Wrap("fetching the VCEK"));
    WriteCache(cache_path, *der);
    RememberVcek(key, *der);
    return der;
  }

  // --- CRL ---------------------------------------------------------------

  // Usable: signed by `ark` and current at `now`.
  static Result<crypto::Crl> Accept(ByteView body, const crypto::Certificate& ark, TimePoint now) {
    auto crl = crypto::Crl::Parse(body);
    if (!crl) return Fail(crl.error());
    if (auto s = crl->VerifySignedBy(ark); !s) {
      return Fail(s.error().code,
                  "the CRL is not issued by the ARK \"" + ark.SubjectCommonName() + "\": " + s.error().message);
    }
    if (auto s = crl->CheckCurrentAt(now); !s) return Fail(s.error());
    return crl;
  }

  bool Fresh(const CachedCrl& entry, TimePoint now) const {
    return now - entry.fetched_at < options.crl_max_age && entry.crl.CheckCurrentAt(now).has_value();
  }

  std::optional<CachedCrl> MemoryCrl(const std::string& key) {
    std::lock_guard lock(mutex);
    auto it = crls.find(key);
    if (it == crls.end()) return std::nullopt;
    return it->second;
  }

  void RememberCrl(const std::string& key, CachedCrl entry) {
    std::lock_guard lock(mutex);
    crls.insert_or_assign(key, std::move(entry));
  }

  Result<crypto::Crl> FetchCrl(Product product, SigningKey kind, const crypto::Certificate& ark, const std::string& key,
                               const std::filesystem::path& cache_path) {
    const TimePoint now = Wallclock();
    std::optional<CachedCrl> cached = MemoryCrl(key);
    if (cached && Fresh(*cached, now)) return cached->crl;
    if (!cached && !cache_path.empty()) {
      auto age = FileAge(cache_path);
      auto body = ReadFile(cache_path, options.max_response_size);
      if (age && body) {
        if (auto crl = Accept(*body, ark, now)) {
          cached = CachedCrl{std::move(*crl), now - *age};
          RememberCrl(key, *cached);
          if (Fresh(*cached, now)) return cached->crl;
        }
      }
    }
    auto fetched = [&]() -> Result<crypto::Crl> {
      if (auto recent = RecentFailure("crl:" + key)) return Fail(*recent);
      auto body = client.FetchCrl(product, kind, CrlCache::kRefresh);
      Result<crypto::Crl> crl = body ? Accept(*body, ark, now) : Result<crypto::Crl>(Fail(body.error()));
      RecordFetch(false, "crl:" + key, crl ? Status() : Status(Fail(crl.error())));
      if (crl) {
        WriteCache(cache_path, *body);
        RememberCrl(key, CachedCrl{*crl, now});
      }
      return crl;
    }();
    if (fetched) return fetched;
    // A refresh that failed leaves an older CRL usable while it is current:
    // AMD publishes CRLs valid well beyond their refresh interval.
    if (cached && cached->crl.CheckCurrentAt(now)) return cached->crl;
    return Fail(fetched.error().Wrap("fetching the CRL for " + CrlSide(product, kind)));
  }
};

CollateralSource::CollateralSource(CollateralOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
CollateralSource::~CollateralSource() = default;

Result<Bytes> CollateralSource::VcekForReport(const Report& report, Product product) const {
  // The cache key is the KDS request path. Whatever prevents building it
  // (a VLEK-signed report, no product, a masked chip id) is refused by the
  // client without any request, with its specific message.
  const Product resolved = product != Product::kUnknown ? product : report.ProductFromCpuid();
  const Product from_cpuid = report.ProductFromCpuid();
  const bool consistent = from_cpuid == Product::kUnknown || from_cpuid == resolved;
  auto path = KdsClient::VcekUrl("", resolved, report.chip_id, DecodeTcb(report.reported_tcb, resolved));
  if (report.Signer().signing_key != SigningKey::kVcek || !consistent || !path) {
    // The client refuses each of these before any request.
    auto refused = impl_->client.FetchVcekForReport(report, product);
    if (!refused) return Fail(refused.error().Wrap("fetching the VCEK"));
    return refused;
  }
  std::filesystem::path cache_path;
  if (!impl_->options.cache_dir.empty()) {
    // KdsClient's cache layout (kds.h), so both share one directory.
    cache_path = impl_->CachePath("vcek-" + std::string(ProductName(resolved)) + "-" +
                                  HexEncode(crypto::Sha256(AsBytes(*path))) + ".der");
  }
  if (auto hit = impl_->MemoryVcek(*path)) return std::move(*hit);
  return impl_->vcek_fetches.Run(*path, [&] { return impl_->FetchVcek(report, product, *path, cache_path); });
}

Result<crypto::Crl> CollateralSource::CurrentCrl(Product product, SigningKey kind,
                                                 const crypto::Certificate& ark) const {
  auto path = KdsClient::CrlUrl("", product, kind);
  if (!path) return Fail(path.error());
  // One CRL per ARK: a process verifying both AMD and emulated reports of
  // one product line keeps their CRLs apart.
  const std::string ark_id = HexEncode(ark.Sha256Fingerprint()).substr(0, 16);
  const std::string key = std::string(ProductName(product)) + "-" + std::string(SigningKeyName(kind)) + "-" + ark_id;
  const TimePoint now = impl_->Wallclock();
  if (auto cached = impl_->MemoryCrl(key); cached && impl_->Fresh(*cached, now)) return cached->crl;
  return impl_->crl_fetches.Run(
      key, [&] { return impl_->FetchCrl(product, kind, ark, key, impl_->CachePath("crl-" + key + ".der")); });
}

CollateralFetchCounts CollateralSource::fetch_counts() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->counts;
}

const std::string& CollateralSource::base_url() const { return impl_->base_url; }

}  // namespace contrast::attest::snp
