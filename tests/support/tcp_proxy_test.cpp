#include "support/tcp_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace contrast::testing {
namespace {

using namespace std::chrono_literals;

// Echoes every byte back on each connection; EOF from the client closes the
// connection. One thread per connection.
class EchoServer {
 public:
  EchoServer() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listen_fd_, 64) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      ADD_FAILURE() << "echo server cannot listen";
      return;
    }
    port_ = ntohs(address.sin_port);
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }
  ~EchoServer() {
    // Unblocks accept and every reader; the threads then exit.
    ::shutdown(listen_fd_, SHUT_RDWR);
    if (acceptor_.joinable()) acceptor_.join();
    {
      std::lock_guard lock(mutex_);
      for (int fd : connections_) ::shutdown(fd, SHUT_RDWR);
    }
    for (std::thread& t : workers_) t.join();
    for (int fd : connections_) ::close(fd);
    ::close(listen_fd_);
  }
  EchoServer(const EchoServer&) = delete;
  EchoServer& operator=(const EchoServer&) = delete;

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  void AcceptLoop() {
    for (;;) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      std::lock_guard lock(mutex_);
      connections_.push_back(fd);
      workers_.emplace_back([fd] {
        char buffer[16 * 1024];
        for (;;) {
          const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
          if (n <= 0) break;
          for (ssize_t sent = 0; sent < n;) {
            const ssize_t m = ::send(fd, buffer + sent, static_cast<size_t>(n - sent), MSG_NOSIGNAL);
            if (m <= 0) return;
            sent += m;
          }
        }
        ::shutdown(fd, SHUT_WR);
      });
    }
  }

  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::thread acceptor_;
  std::mutex mutex_;
  std::vector<int> connections_;
  std::vector<std::thread> workers_;
};

// A client socket; closed at scope exit.
class Client {
 public:
  explicit Client(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(port);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  ~Client() { ::close(fd_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool connected() const { return connected_; }
  int fd() const { return fd_; }

  bool Send(const std::string& bytes) {
    for (size_t sent = 0; sent < bytes.size();) {
      const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<size_t>(n);
    }
    return true;
  }

  // What arrives within `timeout`, up to `want` bytes; `closed` when the
  // stream ended (EOF or reset) first.
  struct Received {
    std::string bytes;
    bool closed = false;
  };
  Received Read(size_t want, std::chrono::milliseconds timeout) {
    Received r;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (r.bytes.size() < want) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      char buffer[16 * 1024];
      const ssize_t n = ::recv(fd_, buffer, std::min(sizeof buffer, want - r.bytes.size()), 0);
      if (n <= 0) {
        r.closed = true;
        break;
      }
      r.bytes.append(buffer, static_cast<size_t>(n));
    }
    return r;
  }

  // True when the stream ends (EOF or reset) within `timeout`, reading and
  // dropping anything before it.
  bool ClosedWithin(std::chrono::milliseconds timeout) { return Read(std::string::npos / 2, timeout).closed; }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

// The proxy counts a write right after it, which the client may read first:
// waits (bounded) until the count reaches `bytes`.
uint64_t WaitForForwarded(const TcpProxy& proxy, uint64_t bytes) {
  for (int i = 0; i < 200 && proxy.bytes_forwarded() < bytes; ++i) std::this_thread::sleep_for(10ms);
  return proxy.bytes_forwarded();
}

// Echo through the proxy: what was sent comes back.
void ExpectEcho(Client& client, const std::string& text) {
  ASSERT_TRUE(client.Send(text));
  const Client::Received r = client.Read(text.size(), 2s);
  EXPECT_EQ(r.bytes, text);
  EXPECT_FALSE(r.closed);
}

TEST(TcpProxy, RejectsTargetsThatAreNotIpv4HostPort) {
  for (const char* target :
       {"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:70000", "localhost:80", "127.0.0.1:80x", "[::1]:80"}) {
    auto proxy = TcpProxy::Start(target);
    ASSERT_FALSE(proxy) << target;
    EXPECT_EQ(proxy.error().code, ErrorCode::kInvalidArgument) << target;
  }
}

TEST(TcpProxy, ForwardsBytesBothWaysAndCounts) {
  EchoServer echo;
  auto proxy = TcpProxy::Start(echo.address());
  ASSERT_TRUE(proxy) << proxy.error().message;
  EXPECT_NE((*proxy)->port(), 0);

  Client a((*proxy)->port());
  Client b((*proxy)->port());
  ASSERT_TRUE(a.connected());
  ASSERT_TRUE(b.connected());
  ExpectEcho(a, "hello");
  ExpectEcho(b, "world!");
  ExpectEcho(a, "again");

  // More than the proxy buffers at once, written while the echo comes back.
  std::string big(1 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 + i / 251);
  std::thread writer([&] { EXPECT_TRUE(b.Send(big)); });
  const Client::Received r = b.Read(big.size(), 10s);
  writer.join();
  EXPECT_EQ(r.bytes.size(), big.size());
  EXPECT_TRUE(r.bytes == big);

  EXPECT_EQ((*proxy)->connections_accepted(), 2u);
  // Each byte crosses the proxy twice (to the server and back).
  EXPECT_EQ(WaitForForwarded(**proxy, 2u * (5 + 6 + 5 + big.size())), 2u * (5 + 6 + 5 + big.size()));
  EXPECT_EQ((*proxy)->open_connections(), 2u);
}

TEST(TcpProxy, PassesHalfCloseOn) {
  EchoServer echo;
  auto proxy = TcpProxy::Start(echo.address());
  ASSERT_TRUE(proxy) << proxy.error().message;
  Client client((*proxy)->port());
  ASSERT_TRUE(client.Send("last words"));
  ::shutdown(client.fd(), SHUT_WR);
  // The server sees EOF only through the proxy, echoes, then closes.
  const Client::Received r = client.Read(100, 2s);
  EXPECT_EQ(r.bytes, "last words");
  EXPECT_TRUE(r.closed);
}

TEST(TcpProxy, ResetBreaksOpenConnectionsAndNewOnesUntilRestore) {
  EchoServer echo;
  auto proxy = TcpProxy::Start(echo.address());
  ASSERT_TRUE(proxy) << proxy.error().message;
  Client open((*proxy)->port());
  ExpectEcho(open, "before");

  (*proxy)->Cut(TcpProxy::CutMode::kReset);
  EXPECT_TRUE(open.ClosedWithin(2s));
  EXPECT_EQ((*proxy)->open_connections(), 0u);

  // The kernel completes the handshake, the proxy resets it at once.
  Client during((*proxy)->port());
  during.Send("anyone?");
  EXPECT_TRUE(during.ClosedWithin(2s));

  (*proxy)->Restore();
  Client after((*proxy)->port());
  ASSERT_TRUE(after.connected());
  ExpectEcho(after, "after");
  EXPECT_EQ((*proxy)->connections_accepted(), 3u);
}

TEST(TcpProxy, BlackholeStallsOpenAndNewConnectionsUntilRestore) {
  EchoServer echo;
  auto proxy = TcpProxy::Start(echo.address());
  ASSERT_TRUE(proxy) << proxy.error().message;
  Client open((*proxy)->port());
  ExpectEcho(open, "before");
  const uint64_t forwarded = WaitForForwarded(**proxy, 2 * 6);
  EXPECT_EQ(forwarded, 2u * 6);

  (*proxy)->Cut(TcpProxy::CutMode::kBlackhole);
  ASSERT_TRUE(open.Send("into the void"));
  Client::Received r = open.Read(1, 300ms);
  EXPECT_EQ(r.bytes, "");
  EXPECT_FALSE(r.closed) << "a blackhole keeps the connection open";

  Client during((*proxy)->port());
  ASSERT_TRUE(during.connected());
  ASSERT_TRUE(during.Send("anyone?"));
  r = during.Read(1, 300ms);
  EXPECT_EQ(r.bytes, "");
  EXPECT_FALSE(r.closed);
  EXPECT_EQ((*proxy)->bytes_forwarded(), forwarded);

  // Held connections are closed so that their clients reconnect.
  (*proxy)->Restore();
  EXPECT_TRUE(open.ClosedWithin(2s));
  EXPECT_TRUE(during.ClosedWithin(2s));
  Client after((*proxy)->port());
  ExpectEcho(after, "after");
  EXPECT_EQ((*proxy)->connections_accepted(), 3u);
}

TEST(TcpProxy, ClosesConnectionsToAnUnreachableTarget) {
  // A port nothing listens on: bind one, read it, close it.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
  ::close(fd);

  auto proxy = TcpProxy::Start("127.0.0.1:" + std::to_string(ntohs(address.sin_port)));
  ASSERT_TRUE(proxy) << proxy.error().message;
  Client client((*proxy)->port());
  EXPECT_TRUE(client.ClosedWithin(2s));
}

TEST(TcpProxy, StopClosesEverythingAndIsIdempotent) {
  EchoServer echo;
  auto proxy = TcpProxy::Start(echo.address());
  ASSERT_TRUE(proxy) << proxy.error().message;
  Client forwarding((*proxy)->port());
  ExpectEcho(forwarding, "x");
  (*proxy)->Cut(TcpProxy::CutMode::kBlackhole);
  Client held((*proxy)->port());
  ASSERT_TRUE(held.connected());

  (*proxy)->Stop();
  EXPECT_TRUE(forwarding.ClosedWithin(2s));
  EXPECT_TRUE(held.ClosedWithin(2s));
  (*proxy)->Stop();
  (*proxy)->Restore();  // after Stop: does nothing, returns
}

}  // namespace
}  // namespace contrast::testing
