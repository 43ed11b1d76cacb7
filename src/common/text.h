// Text from outside, made safe to put into an error message.
#pragma once

#include <string>
#include <string_view>

namespace contrast {

// At most `max` bytes of `text`, non-printable bytes replaced by '?', and
// "..." when it was cut.
std::string PrintableExcerpt(std::string_view text, size_t max = 64);

// Appends the UTF-8 encoding of `code_point`; values that are not Unicode
// scalar values (surrogates, beyond U+10FFFF) become U+FFFD.
void AppendUtf8(std::string& out, char32_t code_point);

}  // namespace contrast
