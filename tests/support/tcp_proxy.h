// A TCP proxy a test controls, to cut the link between one client (a
// Coordinator replica) and one server (an etcd member) without touching
// either process.
//
//   auto proxy = TcpProxy::Start("127.0.0.1:2379");   // listens on 127.0.0.1:port()
//   ... point the client at 127.0.0.1:proxy->port() ...
//   proxy->Cut(TcpProxy::CutMode::kBlackhole);        // the link goes silent
//   proxy->Restore();                                 // and comes back
//
// One thread runs a poll loop over the listening socket and every
// connection pair; bytes are forwarded as they come, at most one buffer per
// direction in flight (a slow reader slows the writer instead of growing a
// queue). A half-close is passed on (EOF on one side shuts down writing on
// the other). Cut and Restore return once the loop has applied them.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/result.h"

namespace contrast::testing {

class TcpProxy {
 public:
  enum class CutMode {
    // Every open connection is reset (RST) now; new connections are accepted
    // and reset at once.
    kReset,
    // Open connections stay open, but nothing is read or written on them;
    // new connections are accepted and held the same way. A peer sees a
    // link that went silent.
    kBlackhole,
  };

  // Listens on a free port of 127.0.0.1 and forwards every connection to
  // `target` ("A.B.C.D:port", IPv4 literal). Errors: kInvalidArgument (the
  // target), kIo (sockets).
  static Result<std::unique_ptr<TcpProxy>> Start(const std::string& target);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  uint16_t port() const { return port_; }
  // "127.0.0.1:<port>".
  std::string address() const;

  void Cut(CutMode mode);
  // Forwarding again, for new connections. Connections held by a blackhole
  // are closed (reset) here, so that their clients reconnect rather than
  // resume a stream that lost bytes nowhere but stalled for a long time.
  void Restore();

  // Connections accepted since Start (also those reset or held by a cut).
  uint64_t connections_accepted() const { return accepted_.load(); }
  // Bytes written to either side since Start.
  uint64_t bytes_forwarded() const { return forwarded_.load(); }
  // Connection pairs currently forwarding.
  size_t open_connections() const { return open_.load(); }

  // Closes every connection and the listener and joins the thread.
  // Idempotent; also run by the destructor.
  void Stop();

 private:
  enum class Mode { kForward, kReset, kBlackhole };
  struct Loop;

  TcpProxy() = default;
  void Request(Mode mode);
  // The poll loop (the proxy's thread).
  void Run();

  uint16_t port_ = 0;
  std::unique_ptr<Loop> loop_;
  std::thread thread_;
  std::atomic<uint64_t> accepted_{0};
  std::atomic<uint64_t> forwarded_{0};
  std::atomic<size_t> open_{0};

  // Commands to the loop thread: the requested mode and a counter the loop
  // echoes once it applied it.
  std::mutex mutex_;
  std::condition_variable applied_cv_;
  Mode requested_ = Mode::kForward;
  uint64_t requests_ = 0;
  uint64_t applied_ = 0;
  bool stop_ = false;
  bool stopped_ = false;
};

}  // namespace contrast::testing
