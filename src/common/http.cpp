#include "common/http.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <limits>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

namespace contrast::http {
namespace {

using EasyHandle = std::unique_ptr<CURL, decltype(&curl_easy_cleanup)>;

Status GlobalInit() {
  static std::once_flag once;
  static CURLcode init_result = CURLE_OK;
  std::call_once(once, [] { init_result = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (init_result != CURLE_OK) {
    return Fail(ErrorCode::kInternal, std::string("curl_global_init: ") + curl_easy_strerror(init_result));
  }
  return {};
}

// Receives the body; refuses to grow past the limit (the transfer then fails
// with CURLE_WRITE_ERROR and `too_large` tells why).
struct BodySink {
  Bytes body;
  size_t limit = 0;
  bool too_large = false;
};

size_t WriteBody(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<BodySink*>(user);
  const size_t n = size * count;
  if (n > sink->limit - sink->body.size()) {
    sink->too_large = true;
    return 0;
  }
  sink->body.insert(sink->body.end(), data, data + n);
  return n;
}

long ClampMillis(std::chrono::milliseconds ms) {
  const auto count = std::max<std::chrono::milliseconds::rep>(ms.count(), 1);
  return static_cast<long>(std::min<std::chrono::milliseconds::rep>(count, std::numeric_limits<long>::max()));
}

// Retry-After is either delta-seconds ("120") or an HTTP-date.
std::optional<std::chrono::seconds> ParseRetryAfter(std::string_view value) {
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.front()))) value.remove_prefix(1);
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    // Anything beyond a day is as good as "much later"; callers cap it anyway.
    constexpr int64_t kMax = 24 * 3600;
    int64_t seconds = 0;
    for (char c : value) {
      seconds = seconds * 10 + (c - '0');
      if (seconds > kMax) return std::chrono::seconds(kMax);
    }
    return std::chrono::seconds(seconds);
  }
  const std::string date(value);
  const time_t when = curl_getdate(date.c_str(), nullptr);
  if (when == -1) return std::nullopt;
  const time_t now = std::time(nullptr);
  return std::chrono::seconds(when > now ? when - now : 0);
}

Error TransferError(CURLcode code, const char* detail, const std::string& url, const BodySink& sink,
                    const GetOptions& options) {
  const std::string reason = (detail != nullptr && *detail != '\0') ? detail : curl_easy_strerror(code);
  if (sink.too_large || code == CURLE_FILESIZE_EXCEEDED) {
    return Error{ErrorCode::kParse, "response from " + url + " exceeds the limit of " +
                                        std::to_string(options.max_response_size) + " bytes"};
  }
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return Error{ErrorCode::kTimeout, "GET " + url + " timed out (connect " +
                                            std::to_string(options.connect_timeout.count()) + " ms, total " +
                                            std::to_string(options.total_timeout.count()) + " ms): " + reason};
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL: return Error{ErrorCode::kInvalidArgument, "cannot GET " + url + ": " + reason};
    case CURLE_OUT_OF_MEMORY: return Error{ErrorCode::kInternal, "GET " + url + ": " + reason};
    default: return Error{ErrorCode::kNetwork, "GET " + url + " failed: " + reason};
  }
}

}  // namespace

Result<Response> Get(const std::string& url, const GetOptions& options) {
  if (auto init = GlobalInit(); !init) return Fail(init.error());
  EasyHandle curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl) return Fail(ErrorCode::kInternal, "curl_easy_init failed");
  CURL* h = curl.get();

  BodySink sink;
  sink.limit = options.max_response_size;
  char error_buffer[CURL_ERROR_SIZE] = {};

  // The option calls only fail for out-of-memory or unknown options; a
  // failure is reported as kInternal rather than silently ignored.
  CURLcode rc = CURLE_OK;
  auto set = [&rc](CURLcode r) {
    if (rc == CURLE_OK) rc = r;
  };
  set(curl_easy_setopt(h, CURLOPT_URL, url.c_str()));
  set(curl_easy_setopt(h, CURLOPT_HTTPGET, 1L));
  set(curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https"));
  set(curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https"));
  set(curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, options.max_redirects > 0 ? 1L : 0L));
  set(curl_easy_setopt(h, CURLOPT_MAXREDIRS, static_cast<long>(std::max(options.max_redirects, 0))));
  // Signals cannot be used for timeouts in a multi-threaded program.
  set(curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L));
  set(curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, ClampMillis(options.connect_timeout)));
  set(curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, ClampMillis(options.total_timeout)));
  set(curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(options.max_response_size)));
  set(curl_easy_setopt(h, CURLOPT_USERAGENT, options.user_agent.c_str()));
  set(curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer));
  set(curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &WriteBody));
  set(curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink));
  if (options.proxy) set(curl_easy_setopt(h, CURLOPT_PROXY, options.proxy->c_str()));
  if (rc != CURLE_OK) {
    return Fail(ErrorCode::kInternal, std::string("configuring libcurl: ") + curl_easy_strerror(rc));
  }

  rc = curl_easy_perform(h);
  if (rc != CURLE_OK) return Fail(TransferError(rc, error_buffer, url, sink, options));

  Response response;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
  const char* content_type = nullptr;
  if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &content_type) == CURLE_OK && content_type != nullptr) {
    response.content_type = content_type;
  }
  curl_header* retry_after = nullptr;
  if (curl_easy_header(h, "Retry-After", 0, CURLH_HEADER, -1, &retry_after) == CURLHE_OK && retry_after != nullptr &&
      retry_after->value != nullptr) {
    response.retry_after = ParseRetryAfter(retry_after->value);
  }
  for (const std::string& name : options.response_headers) {
    curl_header* header = nullptr;
    if (curl_easy_header(h, name.c_str(), 0, CURLH_HEADER, -1, &header) != CURLHE_OK || header == nullptr ||
        header->value == nullptr) {
      continue;
    }
    // A repeated header: its last occurrence.
    if (header->amount > 1) curl_easy_header(h, name.c_str(), header->amount - 1, CURLH_HEADER, -1, &header);
    if (header != nullptr && header->value != nullptr) response.headers[name] = header->value;
  }
  response.body = std::move(sink.body);
  return response;
}

namespace {

bool IsRetryableStatus(long status) { return status == 429 || (status >= 500 && status <= 599); }

std::chrono::milliseconds Backoff(const RetryOptions& retry, int failed_attempts,
                                  std::optional<std::chrono::seconds> retry_after) {
  using std::chrono::milliseconds;
  const milliseconds cap = std::max(retry.max_backoff, milliseconds(0));
  if (retry_after) return std::min<milliseconds>(*retry_after, cap);
  milliseconds delay = std::max(retry.initial_backoff, milliseconds(0));
  for (int i = 1; i < failed_attempts && delay < cap; ++i) delay *= 2;
  delay = std::min(delay, cap);
  // Jitter keeps many clients restarted together from retrying in lockstep.
  thread_local std::minstd_rand rng{std::random_device{}()};
  std::uniform_int_distribution<milliseconds::rep> jitter(0, delay.count() / 4);
  return std::min(delay + milliseconds(jitter(rng)), cap);
}

}  // namespace

Result<Response> GetWithRetries(const std::string& url, const GetOptions& options, const RetryOptions& retry) {
  using Clock = std::chrono::steady_clock;
  using std::chrono::milliseconds;
  const bool bounded = retry.deadline > milliseconds(0);
  const Clock::time_point deadline = Clock::now() + retry.deadline;
  const auto left = [&] { return std::chrono::duration_cast<milliseconds>(deadline - Clock::now()); };
  const int max_attempts = std::max(retry.max_attempts, 1);
  for (int attempt = 1;; ++attempt) {
    GetOptions this_attempt = options;
    if (bounded) {
      const milliseconds remaining = std::max(left(), milliseconds(1));
      this_attempt.total_timeout = std::min(options.total_timeout, remaining);
      this_attempt.connect_timeout = std::min(options.connect_timeout, remaining);
    }
    auto response = Get(url, this_attempt);
    bool retryable = false;
    std::optional<std::chrono::seconds> retry_after;
    if (!response) {
      retryable = response.error().code == ErrorCode::kNetwork || response.error().code == ErrorCode::kTimeout;
    } else {
      response->attempts = attempt;
      retryable = IsRetryableStatus(response->status);
      retry_after = response->retry_after;
    }
    const milliseconds wait = retryable ? Backoff(retry, attempt, retry_after) : milliseconds(0);
    const bool out_of_time = bounded && wait >= left();
    if (!retryable || attempt >= max_attempts || out_of_time) {
      if (!response && attempt > 1) {
        Error error = response.error();
        error.message += " (after " + std::to_string(attempt) + " attempts)";
        return Fail(std::move(error));
      }
      return response;
    }
    std::this_thread::sleep_for(wait);
  }
}

}  // namespace contrast::http
