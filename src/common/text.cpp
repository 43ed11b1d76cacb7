#include "common/text.h"

namespace contrast {

std::string PrintableExcerpt(std::string_view text, size_t max) {
  std::string out;
  for (char c : text.substr(0, max)) out.push_back(c >= 0x20 && c < 0x7F ? c : '?');
  if (text.size() > max) out += "...";
  return out;
}

}  // namespace contrast
