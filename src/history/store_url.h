// Where the Coordinator keeps its manifest history (`--store`):
//
//   dir                                   a directory (--state-dir); the default
//   etcd://HOST:PORT[,HOST:PORT...][/PREFIX]
//                                         an etcd v3 cluster (EtcdStore)
//
// HOST is a DNS name, an IPv4 address or an IPv6 address in brackets
// ("[::1]"); PORT is 1 to 65535; at most kMaxStoreEndpoints endpoints.
// PREFIX is the per-deployment key prefix: letters, digits and "._-/", no
// "..", no empty segment; it is normalised to start and end with '/'
// ("etcd://h:2379/prod" -> "/prod/"). Without one, "/contrast/".
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace contrast::history {

inline constexpr size_t kMaxStoreEndpoints = 16;
inline constexpr std::string_view kDefaultEtcdPrefix = "/contrast/";

struct StoreLocation {
  enum class Kind { kDirectory, kEtcd };
  Kind kind = Kind::kDirectory;
  // kEtcd: "host:port" or "[v6]:port", in the order given.
  std::vector<std::string> endpoints;
  // kEtcd: starts and ends with '/'.
  std::string prefix;
};

// kInvalidArgument, naming the problem, for anything else.
Result<StoreLocation> ParseStoreUrl(std::string_view url);

}  // namespace contrast::history
