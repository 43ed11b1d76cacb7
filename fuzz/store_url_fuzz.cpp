// Fuzz target: `--store` URLs (history/store_url.h). Whatever is accepted must
// satisfy the documented shape: 1..16 endpoints, a prefix that starts and ends
// with '/' and contains no "..".
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "history/store_url.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using contrast::history::StoreLocation;
  const std::string_view url(reinterpret_cast<const char*>(data), size);
  auto location = contrast::history::ParseStoreUrl(url);
  if (!location) return 0;
  if (location->kind == StoreLocation::Kind::kDirectory) {
    if (url != "dir" || !location->endpoints.empty()) std::abort();
    return 0;
  }
  if (location->endpoints.empty() || location->endpoints.size() > contrast::history::kMaxStoreEndpoints) std::abort();
  const std::string& prefix = location->prefix;
  if (prefix.size() < 2 || prefix.front() != '/' || prefix.back() != '/' || prefix.find("..") != std::string::npos ||
      prefix.find("//") != std::string::npos) {
    std::abort();
  }
  for (const auto& endpoint : location->endpoints) {
    if (endpoint.empty() || endpoint.find(',') != std::string::npos || endpoint.find('/') != std::string::npos) {
      std::abort();
    }
  }
  return 0;
}
