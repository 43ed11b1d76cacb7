// session_flood: an attacker's load against a Coordinator's session API, for
// the starvation tests (tests/e2e/starvation_e2e_test.cpp,
// scripts/starvation-test). Loopback only: it refuses any target or source
// outside 127.0.0.0/8.
//
// It holds --connections connections for --seconds, spread over the source
// addresses 127.0.0.S..127.0.0.E (--sources S-E; each bind()s its address),
// each playing one role, round robin:
//   tcp      connects and never starts TLS (held until the server's handshake
//            timeout)
//   idle     TLS and HTTP/2, opens a session call, sends nothing
//   trickle  opens a call and sends a frame's 5-byte gRPC prefix, then one
//            byte of it every 500 ms
//   junk     opens calls and sends junk: a frame that is no SessionFrame, or
//            a request followed at once by evidence that is not bound to the
//            session (a random report); a new call every --call-interval-ms
// HTTP/2 is spoken by hand (a few frame types, literal HPACK) so that every
// byte is under the attacker's control. Whenever the server ends a call
// (refused, cut off, failed), the role opens the next one on the same
// connection --call-interval-ms later (default 1000: idle and trickling
// connections, not a busy loop); whenever it closes the connection, the role
// reconnects (after 50 ms). The server's answers are read and dropped
// (SETTINGS and PING are acknowledged).
//
// It prints "holding N connections" once every connection has been tried,
// and at the end (after --seconds, or on SIGTERM) one line of counters:
//   connections=N handshakes=N calls=N calls_ended=N conn_closed=N errors=N
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "contrast/evidence.pb.h"
#include "contrast/meshapi.pb.h"
#include "session/credentials.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct Options {
  std::string target_host = "127.0.0.1";
  uint16_t target_port = 0;
  int source_first = 2;
  int source_last = 21;
  int connections = 2000;
  int seconds = 30;
  int call_interval_ms = 1000;
  std::string path = "/contrast.v1.MeshAPI/NewMeshCert";
};

struct Counters {
  std::atomic<uint64_t> connections{0};
  std::atomic<uint64_t> handshakes{0};
  std::atomic<uint64_t> calls{0};
  std::atomic<uint64_t> calls_ended{0};
  std::atomic<uint64_t> conn_closed{0};
  std::atomic<uint64_t> errors{0};
  std::atomic<uint64_t> first_attempts{0};  // connections tried at least once
};

enum class Role { kTcp, kIdle, kTrickle, kJunk };

// Set by SIGTERM/SIGINT: every connection stops, and the counters are printed.
std::atomic<bool> g_stop{false};
extern "C" void OnStopSignal(int /*signal*/) { g_stop.store(true); }

bool IsLoopback(const std::string& address) {
  in_addr a{};
  return inet_pton(AF_INET, address.c_str(), &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

// ---- TLS ---------------------------------------------------------------

struct SslCtxDeleter {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
struct SslDeleter {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};

// A client context with a self-signed certificate (the server requires one
// and checks nothing about it) and ALPN h2.
std::unique_ptr<SSL_CTX, SslCtxDeleter> MakeTlsContext() {
  auto identity = contrast::session::SessionIdentity::Generate();
  if (!identity) {
    std::fprintf(stderr, "identity: %s\n", identity.error().message.c_str());
    std::exit(1);
  }
  std::unique_ptr<SSL_CTX, SslCtxDeleter> ctx(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  BIO* cert_bio =
      BIO_new_mem_buf(identity->certificate_pem().data(), static_cast<int>(identity->certificate_pem().size()));
  X509* cert = PEM_read_bio_X509(cert_bio, nullptr, nullptr, nullptr);
  BIO_free(cert_bio);
  BIO* key_bio =
      BIO_new_mem_buf(identity->private_key_pem().data(), static_cast<int>(identity->private_key_pem().size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr);
  BIO_free(key_bio);
  if (cert == nullptr || key == nullptr || SSL_CTX_use_certificate(ctx.get(), cert) != 1 ||
      SSL_CTX_use_PrivateKey(ctx.get(), key) != 1) {
    std::fprintf(stderr, "cannot load the client certificate\n");
    std::exit(1);
  }
  X509_free(cert);
  EVP_PKEY_free(key);
  static const unsigned char kAlpn[] = {2, 'h', '2'};
  SSL_CTX_set_alpn_protos(ctx.get(), kAlpn, sizeof kAlpn);
  return ctx;
}

// ---- HTTP/2 by hand ------------------------------------------------------

constexpr uint8_t kData = 0x0, kHeaders = 0x1, kRstStream = 0x3, kSettings = 0x4, kPing = 0x6, kGoAway = 0x7;
constexpr uint8_t kEndStream = 0x1, kAck = 0x1, kEndHeaders = 0x4;

std::string Frame(uint8_t type, uint8_t flags, uint32_t stream, std::string_view payload) {
  std::string out;
  const auto length = static_cast<uint32_t>(payload.size());
  out.push_back(static_cast<char>((length >> 16) & 0xFF));
  out.push_back(static_cast<char>((length >> 8) & 0xFF));
  out.push_back(static_cast<char>(length & 0xFF));
  out.push_back(static_cast<char>(type));
  out.push_back(static_cast<char>(flags));
  out.push_back(static_cast<char>((stream >> 24) & 0x7F));
  out.push_back(static_cast<char>((stream >> 16) & 0xFF));
  out.push_back(static_cast<char>((stream >> 8) & 0xFF));
  out.push_back(static_cast<char>(stream & 0xFF));
  out.append(payload);
  return out;
}

// HPACK: a string literal without Huffman coding (all ours are < 127 bytes).
void Literal(std::string& out, std::string_view text) {
  out.push_back(static_cast<char>(text.size()));
  out.append(text);
}

std::string RequestHeaders(const std::string& path) {
  std::string block;
  block.push_back(static_cast<char>(0x83));  // :method POST (static index 3)
  block.push_back(static_cast<char>(0x87));  // :scheme https (7)
  block.push_back(0x04);                     // :path, literal value without indexing (name index 4)
  Literal(block, path);
  block.push_back(0x01);  // :authority (1)
  Literal(block, contrast::session::kSessionServerName);
  block.push_back(0x0F);  // content-type (31 = 15 + 16)
  block.push_back(0x10);
  Literal(block, "application/grpc");
  block.push_back(0x00);  // te: a new name
  Literal(block, "te");
  Literal(block, "trailers");
  return block;
}

std::string GrpcMessage(std::string_view bytes) {
  std::string out(5, '\0');
  const auto length = static_cast<uint32_t>(bytes.size());
  out[1] = static_cast<char>((length >> 24) & 0xFF);
  out[2] = static_cast<char>((length >> 16) & 0xFF);
  out[3] = static_cast<char>((length >> 8) & 0xFF);
  out[4] = static_cast<char>(length & 0xFF);
  out.append(bytes);
  return out;
}

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n));
  return out;
}

// A request frame, then evidence whose report is random (not bound to the
// session, and unsigned).
std::string JunkEvidenceExchange() {
  contrast::v1::SessionFrame request;
  request.set_message(contrast::v1::NewMeshCertRequest{}.SerializeAsString());
  contrast::v1::SessionFrame evidence;
  evidence.mutable_evidence()->set_platform("emulated-snp");
  evidence.mutable_evidence()->set_report(RandomBytes(1184));
  return GrpcMessage(request.SerializeAsString()) + GrpcMessage(evidence.SerializeAsString());
}

// ---- One attacker connection -------------------------------------------

class Attacker {
 public:
  Attacker(const Options& options, SSL_CTX* ctx, Counters& counters, Role role, std::string source)
      : options_(options), ctx_(ctx), counters_(counters), role_(role), source_(std::move(source)) {}

  void Run(Clock::time_point end) {
    bool first = true;
    while (Clock::now() < end && !g_stop.load()) {
      const bool connected = Connect();
      if (first) {
        first = false;
        counters_.first_attempts++;
      }
      if (!connected) {
        counters_.errors++;
        std::this_thread::sleep_for(200ms);
        continue;
      }
      Serve(end);
      Close();
      counters_.conn_closed++;
      std::this_thread::sleep_for(50ms);
    }
    Close();
  }

 private:
  bool Connect() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) return false;
    // Blocking calls (connect, the TLS handshake, a read) give up after 3 s,
    // so a stop is noticed even against a server that stalls.
    const timeval patience{3, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof patience);
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &patience, sizeof patience);
    sockaddr_in local{};
    local.sin_family = AF_INET;
    inet_pton(AF_INET, source_.c_str(), &local.sin_addr);
    sockaddr_in remote{};
    remote.sin_family = AF_INET;
    remote.sin_port = htons(options_.target_port);
    inet_pton(AF_INET, options_.target_host.c_str(), &remote.sin_addr);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0 ||
        ::connect(fd_, reinterpret_cast<sockaddr*>(&remote), sizeof remote) != 0) {
      Close();
      return false;
    }
    const int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    counters_.connections++;
    if (role_ == Role::kTcp) return true;
    ssl_.reset(SSL_new(ctx_));
    SSL_set_fd(ssl_.get(), fd_);
    SSL_set_tlsext_host_name(ssl_.get(), std::string(contrast::session::kSessionServerName).c_str());
    if (SSL_connect(ssl_.get()) != 1) {
      Close();
      return false;
    }
    counters_.handshakes++;
    next_stream_ = 1;
    return Send("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + Frame(kSettings, 0, 0, ""));
  }

  void Close() {
    ssl_.reset();
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    buffer_.clear();
  }

  bool Send(const std::string& bytes) {
    if (!ssl_) return false;
    size_t written = 0;
    return SSL_write_ex(ssl_.get(), bytes.data(), bytes.size(), &written) == 1 && written == bytes.size();
  }

  bool OpenCall() {
    stream_ = next_stream_;
    next_stream_ += 2;
    counters_.calls++;
    return Send(Frame(kHeaders, kEndHeaders, stream_, RequestHeaders(options_.path)));
  }

  // What the role sends when a call starts.
  bool StartCall() {
    if (!OpenCall()) return false;
    switch (role_) {
      case Role::kIdle: return true;
      case Role::kTrickle:
        trickled_ = 0;
        return Send(Frame(kData, 0, stream_, GrpcMessage(std::string(2000, 'x')).substr(0, 5)));
      case Role::kJunk: {
        junk_evidence_ = !junk_evidence_;
        const std::string body = junk_evidence_ ? JunkEvidenceExchange() : GrpcMessage(RandomBytes(64));
        return Send(Frame(kData, 0, stream_, body));
      }
      case Role::kTcp: return true;
    }
    return true;
  }

  // Holds the connection until `end` or until the server closes it.
  void Serve(Clock::time_point end) {
    if (role_ != Role::kTcp && !StartCall()) return;
    auto next_action = Clock::now() + Interval();
    bool call_open = true;
    while (Clock::now() < end && !g_stop.load()) {
      // Wakes at least every 200 ms to notice a stop.
      const auto wait = std::min({end, next_action, Clock::now() + 200ms}) - Clock::now();
      pollfd p{fd_, POLLIN, 0};
      const int timeout_ms =
          static_cast<int>(std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(wait).count()));
      const int ready = (ssl_ && SSL_pending(ssl_.get()) > 0) ? 1 : ::poll(&p, 1, timeout_ms);
      if (ready < 0) return;
      if (ready > 0) {
        const int got = ReadAvailable();
        if (got < 0) return;  // the server closed the connection
        if (got == 1) {
          counters_.calls_ended++;
          call_open = false;
          next_action = Clock::now() + std::chrono::milliseconds(options_.call_interval_ms);
        }
      }
      if (role_ == Role::kTcp || Clock::now() < next_action) continue;
      if (!call_open) {
        if (!StartCall()) return;
        call_open = true;
      } else if (role_ == Role::kTrickle && trickled_ < 2000) {
        ++trickled_;
        if (!Send(Frame(kData, 0, stream_, "x"))) return;
      }
      next_action = Clock::now() + Interval();
    }
  }

  std::chrono::milliseconds Interval() const {
    switch (role_) {
      case Role::kTrickle: return 500ms;
      case Role::kJunk: return std::chrono::milliseconds(options_.call_interval_ms);
      default: return 1h;
    }
  }

  // Reads what arrived: -1 when the connection is gone, 1 when our call
  // ended, 0 otherwise.
  int ReadAvailable() {
    char chunk[16384];
    if (!ssl_) {
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      return n <= 0 ? -1 : 0;
    }
    size_t n = 0;
    if (SSL_read_ex(ssl_.get(), chunk, sizeof chunk, &n) != 1) {
      const int error = SSL_get_error(ssl_.get(), 0);
      return error == SSL_ERROR_WANT_READ ? 0 : -1;
    }
    buffer_.append(chunk, n);
    int result = 0;
    while (buffer_.size() >= 9) {
      const auto* b = reinterpret_cast<const unsigned char*>(buffer_.data());
      const size_t length = (static_cast<size_t>(b[0]) << 16) | (static_cast<size_t>(b[1]) << 8) | b[2];
      if (buffer_.size() < 9 + length) break;
      const uint8_t type = b[3];
      const uint8_t flags = b[4];
      const uint32_t stream =
          ((static_cast<uint32_t>(b[5]) & 0x7F) << 24) | (static_cast<uint32_t>(b[6]) << 16) | (b[7] << 8) | b[8];
      const std::string payload = buffer_.substr(9, length);
      buffer_.erase(0, 9 + length);
      if (type == kGoAway) return -1;
      if (type == kSettings && (flags & kAck) == 0 && !Send(Frame(kSettings, kAck, 0, ""))) return -1;
      if (type == kPing && (flags & kAck) == 0 && !Send(Frame(kPing, kAck, 0, payload))) return -1;
      if (stream == stream_ && (type == kRstStream || (type == kHeaders && (flags & kEndStream) != 0))) result = 1;
    }
    return result;
  }

  const Options& options_;
  SSL_CTX* ctx_;
  Counters& counters_;
  Role role_;
  std::string source_;
  int fd_ = -1;
  std::unique_ptr<SSL, SslDeleter> ssl_;
  std::string buffer_;
  uint32_t next_stream_ = 1;
  uint32_t stream_ = 0;
  int trickled_ = 0;
  bool junk_evidence_ = false;
};

int Usage(const char* message) {
  std::fprintf(stderr,
               "%s\nusage: session_flood --target HOST:PORT [--sources FIRST-LAST] [--connections N] [--seconds N]\n"
               "                     [--call-interval-ms N] [--path /pkg.Service/Method]\n",
               message);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--target") {
      const size_t colon = value.rfind(':');
      if (colon == std::string::npos) return Usage("--target: expected HOST:PORT");
      options.target_host = value.substr(0, colon);
      options.target_port = static_cast<uint16_t>(std::atoi(value.c_str() + colon + 1));
    } else if (flag == "--sources") {
      if (std::sscanf(value.c_str(), "%d-%d", &options.source_first, &options.source_last) != 2) {
        return Usage("--sources: expected FIRST-LAST (last octets of 127.0.0.x)");
      }
    } else if (flag == "--connections") {
      options.connections = std::atoi(value.c_str());
    } else if (flag == "--seconds") {
      options.seconds = std::atoi(value.c_str());
    } else if (flag == "--call-interval-ms") {
      options.call_interval_ms = std::max(1, std::atoi(value.c_str()));
    } else if (flag == "--path") {
      options.path = value;
    } else {
      return Usage(("unknown flag " + flag).c_str());
    }
  }
  if (options.target_port == 0 || !IsLoopback(options.target_host)) return Usage("--target must be 127.x.y.z:PORT");
  if (options.source_first < 1 || options.source_last > 254 || options.source_first > options.source_last) {
    return Usage("--sources: octets 1..254, FIRST <= LAST");
  }
  if (options.connections < 1 || options.connections > 20000 || options.seconds < 1 || options.seconds > 3600) {
    return Usage("--connections 1..20000, --seconds 1..3600");
  }
  if (options.path.size() >= 127) return Usage("--path too long");

  std::signal(SIGTERM, OnStopSignal);
  std::signal(SIGINT, OnStopSignal);
  auto ctx = MakeTlsContext();
  Counters counters;
  const auto end = Clock::now() + std::chrono::seconds(options.seconds);
  const int sources = options.source_last - options.source_first + 1;
  std::vector<std::unique_ptr<Attacker>> attackers;
  std::vector<std::thread> threads;
  for (int i = 0; i < options.connections; ++i) {
    const std::string source = "127.0.0." + std::to_string(options.source_first + i % sources);
    const auto role = static_cast<Role>((i / sources) % 4);
    attackers.push_back(std::make_unique<Attacker>(options, ctx.get(), counters, role, source));
  }
  for (auto& attacker : attackers) {
    threads.emplace_back([&attacker, end] { attacker->Run(end); });
  }
  while (counters.first_attempts.load() < static_cast<uint64_t>(options.connections) && Clock::now() < end &&
         !g_stop.load()) {
    std::this_thread::sleep_for(50ms);
  }
  std::printf("holding %llu connections\n", static_cast<unsigned long long>(counters.connections.load()));
  std::fflush(stdout);
  for (auto& thread : threads) thread.join();
  std::printf("connections=%llu handshakes=%llu calls=%llu calls_ended=%llu conn_closed=%llu errors=%llu\n",
              static_cast<unsigned long long>(counters.connections.load()),
              static_cast<unsigned long long>(counters.handshakes.load()),
              static_cast<unsigned long long>(counters.calls.load()),
              static_cast<unsigned long long>(counters.calls_ended.load()),
              static_cast<unsigned long long>(counters.conn_closed.load()),
              static_cast<unsigned long long>(counters.errors.load()));
  return 0;
}
