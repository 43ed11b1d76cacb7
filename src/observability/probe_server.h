// A small HTTP/1.1 server for health probes and Prometheus metrics
// (/probe/startup, /probe/liveness, /probe/readiness, /metrics). GET only, one
// request per connection, served one at a time with short timeouts: probes
// and scrapes are infrequent, and nothing here is sensitive.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "common/result.h"

namespace contrast::observability {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

using HttpHandler = std::function<HttpResponse()>;

class ProbeServer {
 public:
  // Binds `host:port` (port 0 picks a free one) and serves `routes` (exact
  // paths; query strings are ignored) on a background thread.
  static Result<std::unique_ptr<ProbeServer>> Start(const std::string& host, uint16_t port,
                                                    std::map<std::string, HttpHandler> routes);
  ~ProbeServer();
  ProbeServer(const ProbeServer&) = delete;
  ProbeServer& operator=(const ProbeServer&) = delete;

  uint16_t port() const { return port_; }
  // Idempotent; joins the serving thread.
  void Stop();

 private:
  ProbeServer(int listen_fd, int wake_read, int wake_write, uint16_t port, std::map<std::string, HttpHandler> routes);
  void Serve();
  void HandleConnection(int fd);

  int listen_fd_;
  int wake_read_;
  int wake_write_;
  uint16_t port_;
  std::map<std::string, HttpHandler> routes_;
  std::atomic<bool> stopped_{false};
  std::thread thread_;
};

}  // namespace contrast::observability
