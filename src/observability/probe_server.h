// A small HTTP/1.1 server for health probes and Prometheus metrics
// (/probe/startup, /probe/liveness, /probe/readiness, /metrics).
//
// Requests are parsed and answered by cpp-httplib; this server owns the
// sockets and threads around it so that no client can starve the probes:
// - connections are served concurrently, one worker thread each, so a slow
//   client never delays another;
// - every exchange has one deadline for the whole of it (request, handler,
//   response), counted from accept, and a bound on the request bytes read,
//   so a client that trickles its request one byte at a time is cut off
//   after `request_deadline`, not after a per-read timeout it keeps renewing;
// - threads and connections are bounded (`max_connections`); when every
//   worker is busy, a new connection evicts the oldest connection that has not
//   finished sending its request, so honest probes, which send theirs at once,
//   still get through while an attacker holds idle connections open.
// GET and HEAD only, exact paths, one request per connection.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/result.h"

namespace contrast::observability {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

using HttpHandler = std::function<HttpResponse()>;

struct ProbeServerOptions {
  // The whole exchange, from accept to the last byte of the response. Honest
  // probes and scrapes take milliseconds; this only bounds how long a slow or
  // hostile client can hold a worker.
  std::chrono::milliseconds request_deadline{5000};
  // Connections served at once, one worker thread each (threads start on
  // demand and stay until Stop). As many again may wait for a worker; beyond
  // that new connections are closed at once.
  size_t max_connections = 128;
};

class ProbeServer {
 public:
  // Binds `host:port` (a numeric address; port 0 picks a free one) and serves
  // `routes` (exact paths; query strings are ignored) on background threads.
  static Result<std::unique_ptr<ProbeServer>> Start(const std::string& host, uint16_t port,
                                                    std::map<std::string, HttpHandler> routes,
                                                    ProbeServerOptions options = {});
  ~ProbeServer();
  ProbeServer(const ProbeServer&) = delete;
  ProbeServer& operator=(const ProbeServer&) = delete;

  uint16_t port() const;
  // Idempotent; closes every connection and joins every thread.
  void Stop();

 private:
  class Impl;
  explicit ProbeServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace contrast::observability
