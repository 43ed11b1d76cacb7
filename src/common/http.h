// A small HTTP(S) GET client on libcurl, for fetching public artefacts (AMD
// KDS certificates and CRLs, later OCI manifests).
//
// Every call uses its own libcurl handle, so Get is safe to call from several
// threads at once; the only process-wide state is libcurl's one-time global
// initialisation. Bodies are bounded, timeouts always apply, and only http and
// https URLs are accepted. The body is untrusted: callers check what they got.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/bytes.h"

namespace contrast::http {

struct GetOptions {
  // Time allowed to establish the connection (TCP and TLS).
  std::chrono::milliseconds connect_timeout{5000};
  // Time allowed for the whole transfer, connection included.
  std::chrono::milliseconds total_timeout{10000};
  // Larger bodies fail with kParse instead of being buffered.
  size_t max_response_size = 1024 * 1024;
  // 0 = redirects are returned as 3xx responses, not followed.
  int max_redirects = 0;
  std::string user_agent = "contrast";
  // Unset: libcurl's default (the *_proxy environment variables). An empty
  // string disables proxies; anything else is the proxy URL.
  std::optional<std::string> proxy;
  // Response headers to return in Response::headers (names compared without
  // regard to case). Others are not kept.
  std::vector<std::string> response_headers;
};

struct Response {
  long status = 0;  // HTTP status of the final response (any value; callers decide)
  Bytes body;
  std::string content_type;  // empty when the server sent none
  // Retry-After (delta-seconds or HTTP-date, converted to a delay from now).
  std::optional<std::chrono::seconds> retry_after;
  // The headers named in GetOptions::response_headers that the final
  // response carried, keyed by the name as given there (the last value when
  // one is repeated). Untrusted like the body.
  std::map<std::string, std::string> headers;
  // GetWithRetries: the attempts made (1 for Get).
  int attempts = 1;
};

// GETs `url`. A response with any HTTP status is a success of this function.
// Errors: kInvalidArgument (malformed URL, scheme other than http/https),
// kTimeout (connect or total timeout), kNetwork (DNS, refused connection, TLS,
// connection closed mid-response), kParse (body larger than
// max_response_size), kInternal (libcurl could not be set up).
Result<Response> Get(const std::string& url, const GetOptions& options = {});

struct RetryOptions {
  // Attempts in all (>= 1).
  int max_attempts = 4;
  // Delay before the second attempt; doubles per attempt (with up to 25%
  // random jitter), capped at max_backoff. A Retry-After header replaces the
  // computed delay, also capped at max_backoff.
  std::chrono::milliseconds initial_backoff{250};
  std::chrono::milliseconds max_backoff{10000};
  // Bound on the whole call, attempts and waits included (0: none). Each
  // attempt's timeouts are cut to what is left; no wait outlasts it.
  std::chrono::milliseconds deadline{0};
};

// Get, retried on kNetwork and kTimeout errors and on HTTP 429 and 5xx. Any
// other outcome (including 404 and other 4xx) is returned at once. After the
// last attempt: its response (whatever the status) or its error, the message
// then saying how many attempts were made. Response::attempts counts them.
Result<Response> GetWithRetries(const std::string& url, const GetOptions& options, const RetryOptions& retry);

}  // namespace contrast::http
