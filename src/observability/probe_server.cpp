#include "observability/probe_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>

namespace contrast::observability {
namespace {

constexpr size_t kMaxRequestHead = 8 * 1024;
constexpr int kReadTimeoutMs = 2000;

std::string_view Reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

void SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data.remove_prefix(static_cast<size_t>(n));
  }
}

void Respond(int fd, const HttpResponse& response) {
  std::string head = "HTTP/1.1 " + std::to_string(response.status) + " " + std::string(Reason(response.status)) +
                     "\r\nContent-Type: " + response.content_type +
                     "\r\nContent-Length: " + std::to_string(response.body.size()) + "\r\nConnection: close\r\n\r\n";
  SendAll(fd, head + response.body);
}

// Reads until the end of the request head, a timeout, or the size limit.
std::string ReadHead(int fd) {
  std::string head;
  char buffer[1024];
  while (head.find("\r\n\r\n") == std::string::npos && head.size() < kMaxRequestHead) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, kReadTimeoutMs) <= 0) break;
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    head.append(buffer, static_cast<size_t>(n));
  }
  return head;
}

}  // namespace

Result<std::unique_ptr<ProbeServer>> ProbeServer::Start(const std::string& host, uint16_t port,
                                                        std::map<std::string, HttpHandler> routes) {
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
  const int fd = ::socket(info->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Fail(ErrorCode::kIo, std::string("socket: ") + std::strerror(errno));
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, info->ai_addr, info->ai_addrlen) != 0 || ::listen(fd, 64) != 0) {
    const int err = errno;
    ::close(fd);
    return Fail(ErrorCode::kIo, "cannot listen on " + host + ":" + service + ": " + std::strerror(err));
  }
  sockaddr_storage bound{};
  socklen_t length = sizeof bound;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length);
  const uint16_t actual = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  int wake[2];
  if (::pipe2(wake, O_CLOEXEC) != 0) {
    ::close(fd);
    return Fail(ErrorCode::kIo, std::string("pipe2: ") + std::strerror(errno));
  }
  return std::unique_ptr<ProbeServer>(new ProbeServer(fd, wake[0], wake[1], actual, std::move(routes)));
}

ProbeServer::ProbeServer(int listen_fd, int wake_read, int wake_write, uint16_t port,
                         std::map<std::string, HttpHandler> routes)
    : listen_fd_(listen_fd), wake_read_(wake_read), wake_write_(wake_write), port_(port), routes_(std::move(routes)) {
  thread_ = std::thread([this] { Serve(); });
}

ProbeServer::~ProbeServer() { Stop(); }

void ProbeServer::Stop() {
  if (stopped_.exchange(true)) return;
  const char byte = 0;
  (void)!::write(wake_write_, &byte, 1);
  if (thread_.joinable()) thread_.join();
  ::close(listen_fd_);
  ::close(wake_read_);
  ::close(wake_write_);
}

void ProbeServer::Serve() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_read_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    HandleConnection(client);
    ::close(client);
  }
}

void ProbeServer::HandleConnection(int fd) {
  const std::string head = ReadHead(fd);
  const size_t line_end = head.find("\r\n");
  if (line_end == std::string::npos) return Respond(fd, {400, "text/plain", "bad request\n"});
  const std::string_view line(head.data(), line_end);
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return Respond(fd, {400, "text/plain", "bad request\n"});
  if (line.substr(0, sp1) != "GET") return Respond(fd, {405, "text/plain", "only GET\n"});
  std::string path(line.substr(sp1 + 1, sp2 - sp1 - 1));
  if (const size_t q = path.find('?'); q != std::string::npos) path.resize(q);
  const auto route = routes_.find(path);
  if (route == routes_.end()) return Respond(fd, {404, "text/plain", "not found\n"});
  Respond(fd, route->second());
}

}  // namespace contrast::observability
