// Text from outside, made safe to put into an error message.
#pragma once

#include <string>
#include <string_view>

namespace contrast {

// At most `max` bytes of `text`, non-printable bytes replaced by '?', and
// "..." when it was cut.
std::string PrintableExcerpt(std::string_view text, size_t max = 64);

}  // namespace contrast
