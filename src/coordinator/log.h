// Structured log lines: `key=value` pairs, values quoted when they contain
// spaces, quotes or line breaks, so one event is always one parsable line.
// Never pass keys or secrets.
#pragma once

#include <string>
#include <string_view>

namespace contrast::coordinator {

// `value` as a logfmt value: bare when it is a plain token, else in double
// quotes with `"` and `\` escaped and line breaks as \n.
std::string LogValue(std::string_view value);

}  // namespace contrast::coordinator
