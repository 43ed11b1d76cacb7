// Private to contrast_attest_tsm (and its tests): the firmware's
// MSG_REPORT_RSP as /dev/sev-guest returns it, parsed without the device.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/result.h"

namespace contrast::attest::tsm {

// MSG_REPORT_RSP: u32 status, u32 report_size, reserved up to the report.
inline constexpr size_t kReportResponseHeaderSize = 0x20;

// The firmware's name of a status code ("INVALID_PARAM"), or "unknown".
std::string_view FirmwareStatusName(uint32_t status);

// The report from a MSG_REPORT_RSP: kIo naming the status when the firmware
// refused, kParse when report_size is not an SNP report's size or does not
// fit in `response`.
Result<Bytes> ParseReportResponse(ByteView response);

// The certificate buffer size to retry SNP_GET_EXT_REPORT with after the
// kernel asked for `required` bytes: rounded up to whole pages; nullopt when
// that exceeds `limit` (the host is not believed) or would not grow `current`.
std::optional<size_t> CertsRetrySize(uint64_t required, size_t current, size_t page_size, size_t limit);

}  // namespace contrast::attest::tsm
