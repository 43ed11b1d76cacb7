// Points in time as they cross our interfaces (RFC 3339 on the command line,
// seconds since the epoch inside).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/result.h"

namespace contrast {

using TimePoint = std::chrono::sys_seconds;

TimePoint Now();

// Accepts "2025-06-01T00:00:00Z", fractional seconds and numeric offsets
// ("2025-06-01T02:00:00+02:00"); the result is UTC, truncated to seconds.
Result<TimePoint> ParseRfc3339(std::string_view text);

// "2025-06-01T00:00:00Z".
std::string FormatRfc3339(TimePoint t);

}  // namespace contrast
