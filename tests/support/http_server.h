// A real HTTP/1.1 server on 127.0.0.1 for tests of HTTP clients (port picked
// by the kernel). One thread accepts; every connection is served by its own
// thread, answers one GET and closes ("Connection: close").
//
// Routes are keyed by the request target exactly as the client sends it (path
// and query). Unrouted targets get 404. Per target the server can serve a
// file or fixed bytes, fail the next N requests with another reply, delay its
// answer, or hang (never answer, until the client gives up or the server
// stops). It counts the requests per target. Stop() (also run by the
// destructor) wakes every handler and joins every thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/bytes.h"

namespace contrast::testing {

// Percent-encodes everything but RFC 3986's unreserved characters, as Intel
// PCS encodes the issuer chains in its response headers.
std::string PercentEncode(ByteView text);

class HttpServer {
 public:
  struct Reply {
    int status = 200;
    Bytes body;
    std::vector<std::pair<std::string, std::string>> headers;
    // false: no Content-Length; the body ends when the connection closes.
    bool content_length = true;
  };

  // Binds and starts serving; records a test failure if it cannot.
  HttpServer();
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  bool ok() const { return listen_fd_ >= 0; }
  uint16_t port() const { return port_; }
  // "http://127.0.0.1:<port>".
  std::string BaseUrl() const;

  // The file is read when a request arrives (500 if it cannot be read).
  void ServeFile(const std::string& target, const std::filesystem::path& file);
  void Serve(const std::string& target, Reply reply);
  // The next `times` requests for `target` get `reply`; later ones are routed
  // as usual.
  void FailNext(const std::string& target, int times, Reply reply);
  void SetDelay(const std::string& target, std::chrono::milliseconds delay);
  void Hang(const std::string& target);

  int RequestCount(const std::string& target) const;
  int TotalRequests() const;

  // Idempotent. Afterwards the port refuses connections.
  void Stop();

 private:
  struct Route {
    enum class Kind { kNone, kFile, kBytes } kind = Kind::kNone;
    std::filesystem::path file;
    Reply reply;
    int fail_times = 0;
    Reply fail_reply;
    std::chrono::milliseconds delay{0};
    bool hang = false;
  };

  void AcceptLoop();
  void HandleConnection(int fd);
  // Waits until `fd` is readable (or closed) or the server stops; false on
  // stop or timeout. A negative timeout waits forever.
  bool WaitReadable(int fd, std::chrono::milliseconds timeout) const;
  // Sleeps, returning early (false) when the server stops.
  bool SleepUnlessStopped(std::chrono::milliseconds duration) const;
  Reply Decide(const std::string& target, std::chrono::milliseconds& delay, bool& hang);

  int listen_fd_ = -1;
  int wake_read_fd_ = -1;
  int wake_write_fd_ = -1;
  uint16_t port_ = 0;
  bool stopped_ = false;

  mutable std::mutex mu_;
  std::map<std::string, Route> routes_;
  std::map<std::string, int> counts_;
  int total_ = 0;
  std::thread acceptor_;
  std::vector<std::thread> handlers_;
};

}  // namespace contrast::testing
