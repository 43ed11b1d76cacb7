#include "observability/probe_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

// Why this shape. cpp-httplib 0.11 serves each connection from a fixed thread
// pool with an unbounded queue and only per-read timeouts: a client sending a
// byte every few seconds holds a worker forever, and enough of them queue
// every probe behind them. So this server keeps httplib for what it does well
// (parsing the request, routing, writing the response, via the protected
// Server::process_request that httplib's own SSLServer builds on) and owns the
// rest:
// - its own accept loop (a listener that survives transient accept errors
//   such as EMFILE or a connection reset before accept);
// - a bounded set of worker threads, started on demand, one connection each;
// - a Stream whose reads and writes all wait against one deadline per
//   connection and which stops reading after kMaxRequestBytes, so neither time
//   nor memory per connection depends on the client;
// - eviction: when every worker is busy, a new connection shuts down the
//   oldest connection still sending its request. An honest probe sends its
//   request in one packet and is past that phase within a millisecond, so it
//   is practically never the victim; idle and trickling connections are.
// No watchdog thread is needed: a worker blocked on a slow client wakes at the
// deadline by itself, and an evicted one wakes because its socket is shut down.

namespace contrast::observability {
namespace {

using Clock = std::chrono::steady_clock;

// A request line and headers of a probe or scrape are a few hundred bytes;
// httplib's own limit for the request line is 8 KiB. Bodies are never read.
constexpr size_t kMaxRequestBytes = 16 * 1024;
constexpr int kListenBacklog = 128;
// Pause after an accept error caused by exhausted resources (file
// descriptors, buffers): the pending connection stays in the backlog and poll
// would report it again at once.
constexpr int kAcceptRetryMs = 10;

int RemainingMs(Clock::time_point deadline) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(left, 0, INT_MAX));
}

void AddressOf(const sockaddr_storage& address, std::string& ip, int& port) {
  char text[INET6_ADDRSTRLEN] = {};
  if (address.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(address);
    ::inet_ntop(AF_INET, &v4.sin_addr, text, sizeof text);
    port = ntohs(v4.sin_port);
  } else if (address.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(address);
    ::inet_ntop(AF_INET6, &v6.sin6_addr, text, sizeof text);
    port = ntohs(v6.sin6_port);
  }
  ip = text;
}

// One connection's byte stream for httplib: buffered reads, and every wait
// (read or write) bounded by the connection's deadline.
class DeadlineStream final : public httplib::Stream {
 public:
  DeadlineStream(int fd, Clock::time_point deadline) : fd_(fd), deadline_(deadline) {}

  bool is_readable() const override { return begin_ != end_ || Wait(POLLIN); }
  bool is_writable() const override { return Wait(POLLOUT); }

  ssize_t read(char* ptr, size_t size) override {
    if (begin_ == end_ && !Fill()) return eof_ ? 0 : -1;
    const size_t n = std::min(size, end_ - begin_);
    std::memcpy(ptr, buffer_ + begin_, n);
    begin_ += n;
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    while (Wait(POLLOUT)) {
      const ssize_t n = ::send(fd_, ptr, size, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n >= 0) return n;
      if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) return -1;
    }
    return -1;
  }
  using httplib::Stream::write;

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&address), &length) == 0) AddressOf(address, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) == 0) AddressOf(address, ip, port);
  }
  socket_t socket() const override { return fd_; }

 private:
  // Waits for `events` until the deadline; false once it has passed.
  bool Wait(short events) const {
    for (;;) {
      const int timeout = RemainingMs(deadline_);
      if (timeout <= 0) return false;
      pollfd p{fd_, events, 0};
      const int rc = ::poll(&p, 1, timeout);
      if (rc > 0) return true;  // also on hang-up or error: the next call reports it
      if (rc == 0 || errno != EINTR) return false;
    }
  }

  // Refills the buffer; false at the end of the stream, on an error, at the
  // deadline or when the request byte budget is spent.
  bool Fill() {
    begin_ = end_ = 0;
    while (budget_ > 0 && Wait(POLLIN)) {
      const ssize_t n = ::recv(fd_, buffer_, std::min(sizeof buffer_, budget_), MSG_DONTWAIT);
      if (n > 0) {
        end_ = static_cast<size_t>(n);
        budget_ -= end_;
        return true;
      }
      if (n == 0) {
        eof_ = true;
        return false;
      }
      if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) return false;
    }
    return false;
  }

  const int fd_;
  const Clock::time_point deadline_;
  size_t budget_ = kMaxRequestBytes;
  bool eof_ = false;
  char buffer_[4096];
  size_t begin_ = 0;
  size_t end_ = 0;
};

// httplib's request parser, router hook and response writer, without its
// listener and thread pool (see the top of this file).
class HttpExchange final : public httplib::Server {
 public:
  explicit HttpExchange(std::map<std::string, HttpHandler> routes) : routes_(std::move(routes)) {
    set_pre_routing_handler([this](const httplib::Request& request, httplib::Response& response) {
      Route(request, response);
      return HandlerResponse::Handled;
    });
  }

  // Reads one request, answers it and returns; `on_request` runs once the
  // request line and headers have been read.
  void Serve(httplib::Stream& stream, const std::function<void(httplib::Request&)>& on_request) {
    bool connection_closed = true;
    process_request(stream, /*close_connection=*/true, connection_closed, on_request);
  }

 private:
  void Route(const httplib::Request& request, httplib::Response& response) const {
    constexpr const char* kText = "text/plain; charset=utf-8";
    if (request.method != "GET" && request.method != "HEAD") {
      response.status = 405;
      response.set_header("Allow", "GET, HEAD");
      response.set_content("only GET\n", kText);
      return;
    }
    const auto route = routes_.find(request.path);
    if (route == routes_.end()) {
      response.status = 404;
      response.set_content("not found\n", kText);
      return;
    }
    const HttpResponse answer = route->second();
    response.status = answer.status;
    response.set_content(answer.body, answer.content_type);
  }

  const std::map<std::string, HttpHandler> routes_;
};

struct Connection {
  int fd;
  Clock::time_point accepted;
  bool request_read = false;  // past the phase in which it may be evicted
  bool evicted = false;
};

}  // namespace

class ProbeServer::Impl {
 public:
  Impl(int listen_fd, int wake_read, int wake_write, uint16_t port, std::map<std::string, HttpHandler> routes,
       ProbeServerOptions options)
      : listen_fd_(listen_fd),
        wake_read_(wake_read),
        wake_write_(wake_write),
        port_(port),
        options_(options),
        exchange_(std::move(routes)) {
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }
  ~Impl() { Stop(); }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  uint16_t port() const { return port_; }

  void Stop() {
    if (stopped_.exchange(true)) return;
    const char byte = 0;
    (void)!::write(wake_write_, &byte, 1);
    acceptor_.join();
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      for (const Connection& waiting : pending_) ::close(waiting.fd);
      pending_.clear();
      for (Connection* connection : active_) ::shutdown(connection->fd, SHUT_RDWR);
    }
    work_.notify_all();
    // Only the (joined) acceptor adds workers, so the list is stable here.
    for (std::thread& worker : workers_) worker.join();
    ::close(listen_fd_);
    ::close(wake_read_);
    ::close(wake_write_);
  }

 private:
  void AcceptLoop() {
    for (;;) {
      pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_read_, POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) {
        if (errno != EINTR) PauseAccepting();
        continue;
      }
      if (fds[1].revents != 0) return;
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) {
        Admit(fd);
      } else if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        PauseAccepting();
      }
      // Anything else (EAGAIN, ECONNABORTED, a network error Linux reports
      // for the new connection) concerns that one connection only.
    }
  }

  // Sleeps kAcceptRetryMs, or less if Stop wakes us.
  void PauseAccepting() {
    pollfd wake{wake_read_, POLLIN, 0};
    (void)::poll(&wake, 1, kAcceptRetryMs);
  }

  void Admit(int fd) {
    std::lock_guard lock(mutex_);
    if (pending_.size() >= options_.max_connections) {
      // Every worker busy and as many connections again waiting: refuse at
      // once rather than hold an unbounded number of sockets.
      ::close(fd);
      return;
    }
    pending_.push_back(Connection{fd, Clock::now()});
    if (idle_workers_ < pending_.size() && !StartWorker()) EvictOldestRequestInProgress();
    work_.notify_one();
  }

  // False at the thread limit, or when the system has no thread to give.
  bool StartWorker() {
    if (workers_.size() >= options_.max_connections) return false;
    ++idle_workers_;  // counts as idle from its start, so it is not started twice
    try {
      workers_.emplace_back([this] { WorkerLoop(); });
      return true;
    } catch (const std::system_error&) {
      --idle_workers_;
      return false;
    }
  }

  // Shuts down the connection that has waited longest without completing its
  // request; its worker sees the end of the stream and takes the next one.
  void EvictOldestRequestInProgress() {
    Connection* oldest = nullptr;
    for (Connection* connection : active_) {
      if (connection->request_read || connection->evicted) continue;
      if (oldest == nullptr || connection->accepted < oldest->accepted) oldest = connection;
    }
    if (oldest == nullptr) return;  // all are answering; each ends by its deadline
    oldest->evicted = true;
    ::shutdown(oldest->fd, SHUT_RDWR);
  }

  void WorkerLoop() {
    std::unique_lock lock(mutex_);
    for (;;) {
      work_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
      --idle_workers_;
      if (stopping_) return;
      Connection connection = pending_.front();
      pending_.pop_front();
      active_.push_back(&connection);
      lock.unlock();
      Serve(connection);
      lock.lock();
      active_.erase(std::find(active_.begin(), active_.end(), &connection));
      // Closed under the lock: an eviction never hits a reused descriptor.
      ::shutdown(connection.fd, SHUT_RDWR);
      ::close(connection.fd);
      ++idle_workers_;
    }
  }

  void Serve(Connection& connection) {
    DeadlineStream stream(connection.fd, connection.accepted + options_.request_deadline);
    try {
      exchange_.Serve(stream, [&](httplib::Request&) {
        std::lock_guard lock(mutex_);
        connection.request_read = true;
      });
    } catch (...) {
      // Out of memory while parsing: this connection is dropped, the server
      // goes on.
    }
  }

  const int listen_fd_;
  const int wake_read_;
  const int wake_write_;
  const uint16_t port_;
  const ProbeServerOptions options_;
  HttpExchange exchange_;

  std::mutex mutex_;
  std::condition_variable work_;
  std::deque<Connection> pending_;   // accepted, waiting for a worker
  std::vector<Connection*> active_;  // being served (owned by their worker)
  size_t idle_workers_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
  std::thread acceptor_;
  std::atomic<bool> stopped_{false};
};

Result<std::unique_ptr<ProbeServer>> ProbeServer::Start(const std::string& host, uint16_t port,
                                                        std::map<std::string, HttpHandler> routes,
                                                        ProbeServerOptions options) {
  if (options.request_deadline <= std::chrono::milliseconds::zero()) {
    return Fail(ErrorCode::kInvalidArgument, "probe server request deadline must be positive");
  }
  if (options.max_connections == 0) {
    return Fail(ErrorCode::kInvalidArgument, "probe server max_connections must be at least 1");
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST;
  addrinfo* info = nullptr;
  const std::string service = std::to_string(port);
  if (const int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &info); rc != 0) {
    return Fail(ErrorCode::kInvalidArgument, "probe server address " + host + ": " + ::gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owned(info, ::freeaddrinfo);
  // Non-blocking, so a connection reset between poll and accept cannot block
  // the accept loop. SO_REUSEADDR only (not SO_REUSEPORT, httplib's default):
  // a second server on the same port must fail to start.
  const int fd = ::socket(info->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Fail(ErrorCode::kIo, std::string("socket: ") + std::strerror(errno));
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, info->ai_addr, info->ai_addrlen) != 0 || ::listen(fd, kListenBacklog) != 0) {
    const int err = errno;
    ::close(fd);
    return Fail(ErrorCode::kIo, "cannot listen on " + host + ":" + service + ": " + std::strerror(err));
  }
  sockaddr_storage bound{};
  socklen_t length = sizeof bound;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length);
  std::string bound_ip;
  int bound_port = 0;
  AddressOf(bound, bound_ip, bound_port);
  int wake[2];
  if (::pipe2(wake, O_CLOEXEC) != 0) {
    ::close(fd);
    return Fail(ErrorCode::kIo, std::string("pipe2: ") + std::strerror(errno));
  }
  return std::unique_ptr<ProbeServer>(new ProbeServer(
      std::make_unique<Impl>(fd, wake[0], wake[1], static_cast<uint16_t>(bound_port), std::move(routes), options)));
}

ProbeServer::ProbeServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ProbeServer::~ProbeServer() { Stop(); }

uint16_t ProbeServer::port() const { return impl_->port(); }

void ProbeServer::Stop() { impl_->Stop(); }

}  // namespace contrast::observability
