#include "support/tcp_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <list>
#include <vector>

namespace contrast::testing {
namespace {

constexpr size_t kBufferSize = 64 * 1024;

// Close with an RST instead of a FIN: the peer's next read or write fails
// at once, as when a middlebox drops the connection.
void Reset(int fd) {
  if (fd < 0) return;
  const linger abort{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
  ::close(fd);
}

std::string Errno(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

// One direction of a connection pair: bytes read from `from` waiting to be
// written to `to`.
struct Direction {
  int* from = nullptr;
  int* to = nullptr;
  std::array<char, kBufferSize> buffer{};
  size_t offset = 0;
  size_t length = 0;
  bool eof = false;        // `from` ended
  bool shut_down = false;  // EOF passed on to `to`

  bool WantsRead() const { return length == 0 && !eof; }
  bool WantsWrite() const { return length > 0; }
  bool Done() const { return shut_down; }
};

struct Pair {
  int client = -1;
  int upstream = -1;
  bool connecting = true;  // upstream's non-blocking connect still running
  Direction up;            // client -> upstream
  Direction down;          // upstream -> client

  Pair(int client_fd, int upstream_fd) : client(client_fd), upstream(upstream_fd) {
    up.from = &client;
    up.to = &upstream;
    down.from = &upstream;
    down.to = &client;
  }
  Pair(const Pair&) = delete;
  Pair& operator=(const Pair&) = delete;
  void ResetBoth() {
    Reset(client);
    Reset(upstream);
    client = upstream = -1;
  }
};

}  // namespace

struct TcpProxy::Loop {
  int listen_fd = -1;
  int wake_read = -1;
  int wake_write = -1;
  sockaddr_in target{};
  Mode mode = Mode::kForward;
  std::list<Pair> pairs;   // forwarding (std::list: Direction holds pointers into its Pair)
  std::list<Pair> frozen;  // held by a blackhole, never polled
  std::vector<int> held;   // accepted during a blackhole, never polled

  ~Loop() {
    CloseAll();
    if (listen_fd >= 0) ::close(listen_fd);
    if (wake_read >= 0) ::close(wake_read);
    if (wake_write >= 0) ::close(wake_write);
  }

  void CloseFrozen() {
    for (Pair& p : frozen) p.ResetBoth();
    frozen.clear();
    for (int fd : held) Reset(fd);
    held.clear();
  }
  void CloseAll() {
    for (Pair& p : pairs) p.ResetBoth();
    pairs.clear();
    CloseFrozen();
  }

  void Apply(Mode next) {
    switch (next) {
      case Mode::kReset: CloseAll(); break;
      case Mode::kBlackhole: frozen.splice(frozen.end(), pairs); break;
      case Mode::kForward: CloseFrozen(); break;
    }
    mode = next;
  }

  void AcceptAll(std::atomic<uint64_t>& accepted) {
    for (;;) {
      const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;  // EAGAIN, or an aborted connection: nothing to do
      ++accepted;
      if (mode == Mode::kReset) {
        Reset(fd);
        continue;
      }
      if (mode == Mode::kBlackhole) {
        held.push_back(fd);
        continue;
      }
      const int upstream = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (upstream < 0) {
        Reset(fd);
        continue;
      }
      const int rc = ::connect(upstream, reinterpret_cast<const sockaddr*>(&target), sizeof target);
      if (rc != 0 && errno != EINPROGRESS) {
        Reset(fd);
        ::close(upstream);
        continue;
      }
      Pair& p = pairs.emplace_back(fd, upstream);
      p.connecting = rc != 0;
    }
  }
};

namespace {

// Moves what is buffered to `to`; false on a write error.
bool Flush(Direction& d, std::atomic<uint64_t>& forwarded) {
  while (d.length > 0) {
    const ssize_t n = ::send(*d.to, d.buffer.data() + d.offset, d.length, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    d.offset += static_cast<size_t>(n);
    d.length -= static_cast<size_t>(n);
    forwarded += static_cast<uint64_t>(n);
  }
  d.offset = 0;
  if (d.eof && !d.shut_down) {
    ::shutdown(*d.to, SHUT_WR);
    d.shut_down = true;
  }
  return true;
}

// Reads what `from` has; false on a read error.
bool Fill(Direction& d) {
  const ssize_t n = ::recv(*d.from, d.buffer.data(), d.buffer.size(), MSG_DONTWAIT);
  if (n > 0) {
    d.offset = 0;
    d.length = static_cast<size_t>(n);
  } else if (n == 0) {
    d.eof = true;
  } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
    return false;
  }
  return true;
}

short EventsOf(const Direction& reading, const Direction& writing) {
  short events = 0;
  if (reading.WantsRead()) events |= POLLIN;
  if (writing.WantsWrite()) events |= POLLOUT;
  return events;
}

}  // namespace

Result<std::unique_ptr<TcpProxy>> TcpProxy::Start(const std::string& target) {
  const size_t colon = target.rfind(':');
  if (colon == std::string::npos) return Fail(ErrorCode::kInvalidArgument, "proxy target is not host:port: " + target);
  const std::string host = target.substr(0, colon);
  const std::string port_text = target.substr(colon + 1);
  uint16_t target_port = 0;
  const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), target_port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || target_port == 0) {
    return Fail(ErrorCode::kInvalidArgument, "proxy target has no valid port: " + target);
  }
  auto loop = std::make_unique<Loop>();
  loop->target.sin_family = AF_INET;
  loop->target.sin_port = htons(target_port);
  if (::inet_pton(AF_INET, host.c_str(), &loop->target.sin_addr) != 1) {
    return Fail(ErrorCode::kInvalidArgument, "proxy target host is not an IPv4 literal: " + target);
  }

  int wake[2];
  if (::pipe2(wake, O_NONBLOCK | O_CLOEXEC) != 0) return Fail(ErrorCode::kIo, Errno("pipe2"));
  loop->wake_read = wake[0];
  loop->wake_write = wake[1];

  loop->listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (loop->listen_fd < 0) return Fail(ErrorCode::kIo, Errno("socket"));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(loop->listen_fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(loop->listen_fd, 128) != 0 ||
      ::getsockname(loop->listen_fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return Fail(ErrorCode::kIo, Errno("listening on 127.0.0.1"));
  }

  std::unique_ptr<TcpProxy> proxy(new TcpProxy());
  proxy->port_ = ntohs(address.sin_port);
  proxy->loop_ = std::move(loop);
  TcpProxy* self = proxy.get();
  proxy->thread_ = std::thread([self] { self->Run(); });
  return proxy;
}

void TcpProxy::Run() {
  {
    Loop& loop = *loop_;
    std::vector<pollfd> fds;
    std::vector<Pair*> owners;  // owners[i]: the pair of fds[i] (2 + 2k, 2 + 2k + 1)
    for (;;) {
      {
        std::lock_guard lock(mutex_);
        if (applied_ != requests_) {
          loop.Apply(requested_);
          applied_ = requests_;
          open_ = loop.pairs.size();
          applied_cv_.notify_all();
        }
        if (stop_) break;
      }
      open_ = loop.pairs.size();

      fds.clear();
      owners.clear();
      fds.push_back({loop.wake_read, POLLIN, 0});
      fds.push_back({loop.listen_fd, POLLIN, 0});
      for (Pair& p : loop.pairs) {
        if (p.connecting) {
          fds.push_back({-1, 0, 0});
          fds.push_back({p.upstream, POLLOUT, 0});
        } else {
          // A negative fd is ignored by poll: a side with nothing to do is
          // left out, so a hung-up socket we are not reading does not spin.
          const short client_events = EventsOf(p.up, p.down);
          const short upstream_events = EventsOf(p.down, p.up);
          fds.push_back({client_events != 0 ? p.client : -1, client_events, 0});
          fds.push_back({upstream_events != 0 ? p.upstream : -1, upstream_events, 0});
        }
        owners.push_back(&p);
      }
      if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) break;

      if (fds[0].revents != 0) {
        char drain[64];
        while (::read(loop.wake_read, drain, sizeof drain) > 0) {
        }
      }
      if (fds[1].revents != 0) loop.AcceptAll(accepted_);

      for (size_t k = 0; k < owners.size(); ++k) {
        Pair& p = *owners[k];
        const short client_revents = fds[2 + 2 * k].revents;
        const short upstream_revents = fds[2 + 2 * k + 1].revents;
        bool ok = true;
        if (p.connecting) {
          if (upstream_revents == 0) continue;
          int error = 0;
          socklen_t size = sizeof error;
          ok = ::getsockopt(p.upstream, SOL_SOCKET, SO_ERROR, &error, &size) == 0 && error == 0;
          p.connecting = false;
        } else {
          if (client_revents != 0 || upstream_revents != 0) {
            // Read whatever is ready, then write whatever is buffered; a
            // write that fails would also show on the next poll, but
            // trying now saves a round.
            if (ok && p.up.WantsRead() && client_revents != 0) ok = Fill(p.up);
            if (ok && p.down.WantsRead() && upstream_revents != 0) ok = Fill(p.down);
            if (ok) ok = Flush(p.up, forwarded_);
            if (ok) ok = Flush(p.down, forwarded_);
          }
        }
        if (!ok) p.ResetBoth();
      }
      loop.pairs.remove_if([](const Pair& p) {
        if (p.client < 0) return true;
        if (p.up.Done() && p.down.Done()) {
          ::close(p.client);
          ::close(p.upstream);
          return true;
        }
        return false;
      });
    }
    loop.CloseAll();
    open_ = 0;
  }
  // Also after a failed poll: no caller of Request waits forever.
  std::lock_guard lock(mutex_);
  stop_ = true;
  applied_cv_.notify_all();
}

TcpProxy::~TcpProxy() { Stop(); }

std::string TcpProxy::address() const { return "127.0.0.1:" + std::to_string(port_); }

void TcpProxy::Request(Mode mode) {
  std::unique_lock lock(mutex_);
  if (stopped_) return;
  requested_ = mode;
  const uint64_t ticket = ++requests_;
  const char wake = 1;
  [[maybe_unused]] const ssize_t written = ::write(loop_->wake_write, &wake, 1);
  applied_cv_.wait(lock, [&] { return applied_ >= ticket || stop_; });
}

void TcpProxy::Cut(CutMode mode) { Request(mode == CutMode::kReset ? Mode::kReset : Mode::kBlackhole); }

void TcpProxy::Restore() { Request(Mode::kForward); }

void TcpProxy::Stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    stopped_ = stop_ = true;
    const char wake = 1;
    [[maybe_unused]] const ssize_t written = ::write(loop_->wake_write, &wake, 1);
    applied_cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  loop_.reset();
}

}  // namespace contrast::testing
