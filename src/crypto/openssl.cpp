#include "crypto/openssl.h"

#include <openssl/err.h>

namespace contrast::crypto {

std::string DrainOpensslErrors() {
  std::string out;
  unsigned long code = 0;
  while ((code = ERR_get_error()) != 0) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    if (!out.empty()) out += "; ";
    out += buffer;
  }
  return out;
}

void ClearOpensslErrors() { ERR_clear_error(); }

Error OpensslError(ErrorCode code, std::string_view what) {
  std::string queue = DrainOpensslErrors();
  std::string message(what);
  if (!queue.empty()) message += " (" + queue + ")";
  return Error{code, std::move(message)};
}

}  // namespace contrast::crypto
