#include "support/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <string_view>

#include "common/files.h"

namespace contrast::testing {
namespace {

constexpr size_t kMaxRequestHead = 64 * 1024;
constexpr std::chrono::milliseconds kReadTimeout{5000};

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

HttpServer::Reply TextReply(int status, std::string_view text) {
  HttpServer::Reply reply;
  reply.status = status;
  reply.body.assign(text.begin(), text.end());
  reply.headers.emplace_back("Content-Type", "text/plain");
  return reply;
}

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

HttpServer::HttpServer() {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    ADD_FAILURE() << "HttpServer: pipe2: " << std::strerror(errno);
    return;
  }
  wake_read_fd_ = pipe_fds[0];
  wake_write_fd_ = pipe_fds[1];

  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ADD_FAILURE() << "HttpServer: socket: " << std::strerror(errno);
    return;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 64) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ADD_FAILURE() << "HttpServer: cannot listen on 127.0.0.1: " << std::strerror(errno);
    ::close(fd);
    return;
  }
  listen_fd_ = fd;
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

HttpServer::~HttpServer() {
  Stop();
  if (wake_read_fd_ >= 0) ::close(wake_read_fd_);
  if (wake_write_fd_ >= 0) ::close(wake_write_fd_);
}

std::string HttpServer::BaseUrl() const { return "http://127.0.0.1:" + std::to_string(port_); }

void HttpServer::ServeFile(const std::string& target, const std::filesystem::path& file) {
  std::lock_guard lock(mu_);
  Route& route = routes_[target];
  route.kind = Route::Kind::kFile;
  route.file = file;
}

void HttpServer::Serve(const std::string& target, Reply reply) {
  std::lock_guard lock(mu_);
  Route& route = routes_[target];
  route.kind = Route::Kind::kBytes;
  route.reply = std::move(reply);
}

void HttpServer::FailNext(const std::string& target, int times, Reply reply) {
  std::lock_guard lock(mu_);
  Route& route = routes_[target];
  route.fail_times = times;
  route.fail_reply = std::move(reply);
}

void HttpServer::SetDelay(const std::string& target, std::chrono::milliseconds delay) {
  std::lock_guard lock(mu_);
  routes_[target].delay = delay;
}

void HttpServer::Hang(const std::string& target) {
  std::lock_guard lock(mu_);
  routes_[target].hang = true;
}

int HttpServer::RequestCount(const std::string& target) const {
  std::lock_guard lock(mu_);
  const auto it = counts_.find(target);
  return it == counts_.end() ? 0 : it->second;
}

int HttpServer::TotalRequests() const {
  std::lock_guard lock(mu_);
  return total_;
}

void HttpServer::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (wake_write_fd_ >= 0) {
    // Never read: the pipe stays readable and wakes every poll() at once.
    const char byte = 1;
    while (::write(wake_write_fd_, &byte, 1) < 0 && errno == EINTR) {
    }
  }
  if (acceptor_.joinable()) acceptor_.join();
  // The acceptor has exited, so no handler is added any more.
  for (std::thread& handler : handlers_) handler.join();
  handlers_.clear();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  listen_fd_ = -1;
}

bool HttpServer::WaitReadable(int fd, std::chrono::milliseconds timeout) const {
  pollfd fds[2] = {{fd, POLLIN, 0}, {wake_read_fd_, POLLIN, 0}};
  for (;;) {
    const int n = ::poll(fds, 2, timeout.count() < 0 ? -1 : static_cast<int>(timeout.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    return fds[1].revents == 0;
  }
}

bool HttpServer::SleepUnlessStopped(std::chrono::milliseconds duration) const {
  pollfd wake{wake_read_fd_, POLLIN, 0};
  const auto deadline = std::chrono::steady_clock::now() + duration;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return true;
    const int n = ::poll(&wake, 1, static_cast<int>(left.count()));
    if (n > 0) return false;
  }
}

void HttpServer::AcceptLoop() {
  for (;;) {
    if (!WaitReadable(listen_fd_, std::chrono::milliseconds(-1))) return;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::lock_guard lock(mu_);
    handlers_.emplace_back([this, fd] {
      HandleConnection(fd);
      ::close(fd);
    });
  }
}

HttpServer::Reply HttpServer::Decide(const std::string& target, std::chrono::milliseconds& delay, bool& hang) {
  std::filesystem::path file;
  {
    std::lock_guard lock(mu_);
    ++counts_[target];
    ++total_;
    const auto it = routes_.find(target);
    if (it == routes_.end()) return TextReply(404, "no route for " + target + "\n");
    Route& route = it->second;
    delay = route.delay;
    hang = route.hang;
    if (route.fail_times > 0) {
      --route.fail_times;
      return route.fail_reply;
    }
    switch (route.kind) {
      case Route::Kind::kNone: return TextReply(404, "no content for " + target + "\n");
      case Route::Kind::kBytes: return route.reply;
      case Route::Kind::kFile: file = route.file; break;
    }
  }
  auto content = ReadFile(file);
  if (!content) return TextReply(500, "cannot read " + file.string() + ": " + content.error().message + "\n");
  Reply reply;
  reply.body = std::move(*content);
  reply.headers.emplace_back("Content-Type", "application/octet-stream");
  return reply;
}

void HttpServer::HandleConnection(int fd) {
  std::string head;
  while (head.find("\r\n\r\n") == std::string::npos) {
    if (head.size() > kMaxRequestHead || !WaitReadable(fd, kReadTimeout)) return;
    char buffer[4096];
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    head.append(buffer, static_cast<size_t>(n));
  }

  // Request line: METHOD SP target SP HTTP/1.x
  const std::string line = head.substr(0, head.find("\r\n"));
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string::npos ? std::string::npos : line.find(' ', sp1 + 1);
  Reply reply;
  std::chrono::milliseconds delay{0};
  bool hang = false;
  if (sp2 == std::string::npos || line.compare(sp2 + 1, 7, "HTTP/1.") != 0) {
    reply = TextReply(400, "malformed request line\n");
  } else if (line.compare(0, sp1, "GET") != 0) {
    reply = TextReply(405, "only GET\n");
  } else {
    reply = Decide(line.substr(sp1 + 1, sp2 - sp1 - 1), delay, hang);
  }

  if (hang) {
    // Returns when the client closes the connection or the server stops.
    WaitReadable(fd, std::chrono::milliseconds(-1));
    return;
  }
  if (delay.count() > 0 && !SleepUnlessStopped(delay)) return;

  std::string out = "HTTP/1.1 " + std::to_string(reply.status) + " " + std::string(ReasonPhrase(reply.status)) + "\r\n";
  if (reply.content_length) out += "Content-Length: " + std::to_string(reply.body.size()) + "\r\n";
  for (const auto& [name, value] : reply.headers) out += name + ": " + value + "\r\n";
  out += "Connection: close\r\n\r\n";
  if (!SendAll(fd, out) || !SendAll(fd, AsChars(reply.body))) return;
  ::shutdown(fd, SHUT_WR);
}

}  // namespace contrast::testing

namespace contrast::testing {

std::string PercentEncode(ByteView text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (uint8_t c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace contrast::testing
