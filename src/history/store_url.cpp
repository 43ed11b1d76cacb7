#include "history/store_url.h"

#include <charconv>

namespace contrast::history {
namespace {

constexpr std::string_view kEtcdScheme = "etcd://";
constexpr size_t kMaxUrlLength = 4096;
constexpr size_t kMaxHostLength = 253;
constexpr size_t kMaxPrefixLength = 256;

// For error messages: the input may be anything.
std::string Shown(std::string_view text) {
  std::string shown(text.substr(0, 80));
  for (char& c : shown) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
  }
  if (text.size() > 80) shown += "...";
  return "\"" + shown + "\"";
}

bool IsAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
bool IsHex(char c) { return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9'); }

Status ParseEndpoint(std::string_view endpoint) {
  auto fail = [&](const std::string& why) {
    return Fail(ErrorCode::kInvalidArgument, "--store: etcd endpoint " + Shown(endpoint) + " " + why);
  };
  if (endpoint.empty()) return fail("is empty");
  std::string_view host, port;
  if (endpoint.front() == '[') {
    const size_t close = endpoint.find(']');
    if (close == std::string_view::npos) return fail("has no closing ']' after the IPv6 address");
    host = endpoint.substr(1, close - 1);
    if (host.empty()) return fail("has an empty IPv6 address");
    for (char c : host) {
      if (!IsHex(c) && c != ':' && c != '.') return fail("has an invalid character in its IPv6 address");
    }
    if (host.find(':') == std::string_view::npos) return fail("has no ':' in its IPv6 address");
    if (close + 1 >= endpoint.size() || endpoint[close + 1] != ':') return fail("needs a port: [ADDRESS]:PORT");
    port = endpoint.substr(close + 2);
  } else {
    const size_t colon = endpoint.rfind(':');
    if (colon == std::string_view::npos) return fail("needs a port: HOST:PORT");
    host = endpoint.substr(0, colon);
    port = endpoint.substr(colon + 1);
    if (host.empty()) return fail("has an empty host");
    if (host.size() > kMaxHostLength) return fail("has a host name longer than 253 characters");
    for (char c : host) {
      if (!IsAlnum(c) && c != '.' && c != '-') {
        return fail(c == ':' ? "looks like an IPv6 address: write it in brackets, [ADDRESS]:PORT"
                             : "has an invalid character in its host name");
      }
    }
    if (host.front() == '-' || host.front() == '.') return fail("has a host name starting with '-' or '.'");
  }
  if (port.empty() || port.size() > 5) return fail("needs a port from 1 to 65535");
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value < 1 || value > 65535) {
    return fail("needs a port from 1 to 65535");
  }
  return {};
}

Result<std::string> ParsePrefix(std::string_view path) {
  // `path` starts with '/'.
  auto fail = [&](const std::string& why) {
    return Fail(ErrorCode::kInvalidArgument, "--store: etcd key prefix " + Shown(path) + " " + why);
  };
  if (path.size() > kMaxPrefixLength) return fail("is longer than 256 characters");
  for (char c : path) {
    if (!IsAlnum(c) && c != '.' && c != '_' && c != '-' && c != '/') {
      return fail("may only contain letters, digits and . _ - /");
    }
  }
  if (path.find("..") != std::string_view::npos) return fail("must not contain \"..\"");
  std::string prefix(path);
  if (prefix.back() != '/') prefix += '/';
  if (prefix == "/") return fail("is empty (leave it out for the default \"/contrast/\")");
  if (prefix.find("//") != std::string::npos) return fail("has an empty segment (\"//\")");
  return prefix;
}

}  // namespace

Result<StoreLocation> ParseStoreUrl(std::string_view url) {
  if (url == "dir") return StoreLocation{};
  if (url.size() > kMaxUrlLength) return Fail(ErrorCode::kInvalidArgument, "--store: the URL is too long");
  if (!url.starts_with(kEtcdScheme)) {
    return Fail(ErrorCode::kInvalidArgument,
                "--store: " + Shown(url) + " is neither \"dir\" nor \"etcd://HOST:PORT[,HOST:PORT...][/PREFIX]\"");
  }
  const std::string_view rest = url.substr(kEtcdScheme.size());
  const size_t slash = rest.find('/');
  const std::string_view hosts = rest.substr(0, slash);
  StoreLocation location;
  location.kind = StoreLocation::Kind::kEtcd;
  location.prefix = std::string(kDefaultEtcdPrefix);
  if (hosts.empty()) return Fail(ErrorCode::kInvalidArgument, "--store: etcd URL without endpoints");
  size_t start = 0;
  for (;;) {
    const size_t comma = hosts.find(',', start);
    const std::string_view endpoint = hosts.substr(start, comma == std::string_view::npos ? comma : comma - start);
    if (location.endpoints.size() == kMaxStoreEndpoints) {
      return Fail(ErrorCode::kInvalidArgument,
                  "--store: more than " + std::to_string(kMaxStoreEndpoints) + " etcd endpoints");
    }
    if (auto ok = ParseEndpoint(endpoint); !ok) return Fail(ok.error());
    location.endpoints.emplace_back(endpoint);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  if (slash != std::string_view::npos) {
    auto prefix = ParsePrefix(rest.substr(slash));
    if (!prefix) return Fail(prefix.error());
    location.prefix = std::move(*prefix);
  }
  return location;
}

}  // namespace contrast::history
