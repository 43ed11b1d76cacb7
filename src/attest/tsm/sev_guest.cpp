#include "attest/tsm/sev_guest.h"

#include <fcntl.h>
#include <linux/sev-guest.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <system_error>
#include <utility>

#include "attest/snp/abi.h"
#include "attest/tsm/sev_guest_response.h"
#include "attest/tsm/snp_evidence.h"

namespace contrast::attest::tsm {

// The uapi layouts this file hands to the kernel (x86-64). A header that
// disagrees would make the ioctls read and write the wrong bytes.
static_assert(sizeof(snp_report_req) == 96);
static_assert(offsetof(snp_report_req, user_data) == 0 && sizeof(snp_report_req::user_data) == kReportDataSize);
static_assert(offsetof(snp_report_req, vmpl) == 64);
static_assert(offsetof(snp_report_req, rsvd) == 68 && sizeof(snp_report_req::rsvd) == 28);
static_assert(sizeof(snp_report_resp) == 4000);
static_assert(kReportResponseHeaderSize + snp::kReportSize <= sizeof(snp_report_resp));
static_assert(offsetof(snp_ext_report_req, data) == 0);
static_assert(offsetof(snp_ext_report_req, certs_address) == 96);
static_assert(offsetof(snp_ext_report_req, certs_len) == 104);
static_assert(sizeof(snp_guest_request_ioctl) == 32);
static_assert(offsetof(snp_guest_request_ioctl, msg_version) == 0);
static_assert(offsetof(snp_guest_request_ioctl, req_data) == 8);
static_assert(offsetof(snp_guest_request_ioctl, resp_data) == 16);
static_assert(offsetof(snp_guest_request_ioctl, exitinfo2) == 24);
static_assert(offsetof(snp_guest_request_ioctl, fw_error) == 24);
static_assert(offsetof(snp_guest_request_ioctl, vmm_error) == 28);
// _IOWR('S', nr, struct snp_guest_request_ioctl): direction 3, size 32.
static_assert(SNP_GET_REPORT == 0xC0205300UL);
static_assert(SNP_GET_EXT_REPORT == 0xC0205302UL);
static_assert(SNP_GUEST_VMM_ERR_INVALID_LEN == 1);

namespace {

// The kernel refuses certificate buffers larger than 16 KiB (its
// SEV_FW_BLOB_MAX_SIZE) on the versions that have only this interface, and
// a real table (VCEK, ASK, ARK) is about 4 KiB.
constexpr size_t kInitialCertsSize = 0x4000;
// However large the host claims its table to be, we do not believe more.
constexpr size_t kMaxCertsSize = 1024 * 1024;
constexpr int kMaxExtReportRounds = 3;

uint32_t ReadLe32(ByteView b, size_t at) {
  return static_cast<uint32_t>(b[at]) | static_cast<uint32_t>(b[at + 1]) << 8 | static_cast<uint32_t>(b[at + 2]) << 16 |
         static_cast<uint32_t>(b[at + 3]) << 24;
}

std::string Hex(uint64_t value) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(value));
  return buf;
}

// Everything the kernel told us about a failed request.
std::string DescribeFailure(const std::filesystem::path& device, std::string_view ioctl_name, int error,
                            const snp_guest_request_ioctl& request) {
  std::string text = device.string() + ": " + std::string(ioctl_name) +
                     " failed: " + std::error_code(error, std::generic_category()).message() + " (errno " +
                     std::to_string(error) + "), fw_error " + Hex(request.fw_error);
  if (request.fw_error != 0) text += " (" + std::string(FirmwareStatusName(request.fw_error)) + ")";
  text += ", vmm_error " + Hex(request.vmm_error);
  if (request.vmm_error == SNP_GUEST_VMM_ERR_INVALID_LEN) text += " (certificate buffer too small)";
  if (request.vmm_error == SNP_GUEST_VMM_ERR_BUSY) text += " (host busy)";
  return text;
}

// Request and response of one report, wiped when done: they carry
// REPORT_DATA, which binds session keys.
struct ReportExchange {
  snp_ext_report_req ext{};
  snp_report_resp resp{};
  snp_guest_request_ioctl ioctl_args{};

  ReportExchange() = default;
  ReportExchange(const ReportExchange&) = delete;
  ReportExchange& operator=(const ReportExchange&) = delete;
  ~ReportExchange() {
    ::explicit_bzero(&ext, sizeof ext);
    ::explicit_bzero(&resp, sizeof resp);
    ::explicit_bzero(&ioctl_args, sizeof ioctl_args);
  }

  // Zero on success, else errno; `ioctl_args` then holds the error codes.
  int Call(int fd, unsigned long request, void* request_data) {
    ::explicit_bzero(&resp, sizeof resp);
    ioctl_args = {};
    ioctl_args.msg_version = 1;
    ioctl_args.req_data = reinterpret_cast<uintptr_t>(request_data);
    ioctl_args.resp_data = reinterpret_cast<uintptr_t>(&resp);
    int rc;
    do {
      rc = ::ioctl(fd, request, &ioctl_args);
    } while (rc != 0 && errno == EINTR);
    return rc == 0 ? 0 : errno;
  }
};

}  // namespace

std::string_view FirmwareStatusName(uint32_t status) {
  // SEV firmware status codes (AMD SEV API; the kernel's psp-sev.h).
  static constexpr std::array<std::string_view, 0x19> kNames = {"SUCCESS",
                                                                "INVALID_PLATFORM_STATE",
                                                                "INVALID_GUEST_STATE",
                                                                "INVALID_CONFIG",
                                                                "INVALID_LEN",
                                                                "ALREADY_OWNED",
                                                                "INVALID_CERTIFICATE",
                                                                "POLICY_FAILURE",
                                                                "INACTIVE",
                                                                "INVALID_ADDRESS",
                                                                "BAD_SIGNATURE",
                                                                "BAD_MEASUREMENT",
                                                                "ASID_OWNED",
                                                                "INVALID_ASID",
                                                                "WBINVD_REQUIRED",
                                                                "DFFLUSH_REQUIRED",
                                                                "INVALID_GUEST",
                                                                "INVALID_COMMAND",
                                                                "ACTIVE",
                                                                "HWSEV_RET_PLATFORM",
                                                                "HWSEV_RET_UNSAFE",
                                                                "UNSUPPORTED",
                                                                "INVALID_PARAM",
                                                                "RESOURCE_LIMIT",
                                                                "SECURE_DATA_INVALID"};
  return status < kNames.size() ? kNames[status] : "unknown";
}

Result<Bytes> ParseReportResponse(ByteView response) {
  if (response.size() < kReportResponseHeaderSize) {
    return Fail(ErrorCode::kParse, "MSG_REPORT_RSP: " + std::to_string(response.size()) + " bytes, shorter than its " +
                                       std::to_string(kReportResponseHeaderSize) + "-byte header");
  }
  const uint32_t status = ReadLe32(response, 0);
  if (status != 0) {
    return Fail(ErrorCode::kIo, "MSG_REPORT_RSP: the firmware refused the report request: status " + Hex(status) +
                                    " (" + std::string(FirmwareStatusName(status)) + ")");
  }
  const uint32_t report_size = ReadLe32(response, 4);
  if (report_size != snp::kReportSize) {
    return Fail(ErrorCode::kParse,
                "MSG_REPORT_RSP: report_size " + Hex(report_size) + ", expected " + Hex(snp::kReportSize));
  }
  if (response.size() - kReportResponseHeaderSize < report_size) {
    return Fail(ErrorCode::kParse, "MSG_REPORT_RSP: report_size " + Hex(report_size) + " does not fit in the " +
                                       std::to_string(response.size()) + "-byte response");
  }
  const auto report = response.subspan(kReportResponseHeaderSize, report_size);
  return Bytes(report.begin(), report.end());
}

std::optional<size_t> CertsRetrySize(uint64_t required, size_t current, size_t page_size, size_t limit) {
  if (required == 0 || page_size == 0 || required > limit) return std::nullopt;
  const uint64_t rounded = (required + page_size - 1) / page_size * page_size;
  if (rounded > limit || rounded <= current) return std::nullopt;
  return static_cast<size_t>(rounded);
}

Result<std::unique_ptr<SevGuestIssuer>> SevGuestIssuer::Open(std::filesystem::path device, int vmpl) {
  if (vmpl < 0 || vmpl > 3) {
    return Fail(ErrorCode::kInvalidArgument,
                device.string() + ": VMPL " + std::to_string(vmpl) + " is out of range (0..3)");
  }
  const int fd = ::open(device.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    const int error = errno;
    if (error == ENOENT) {
      return Fail(ErrorCode::kNotFound, device.string() +
                                            " does not exist (not an SEV-SNP guest, or the sev-guest driver is not "
                                            "loaded)");
    }
    return Fail(ErrorCode::kIo,
                "opening " + device.string() + ": " + std::error_code(error, std::generic_category()).message());
  }
  return std::unique_ptr<SevGuestIssuer>(new SevGuestIssuer(std::move(device), fd, vmpl));
}

SevGuestIssuer::SevGuestIssuer(std::filesystem::path device, int fd, int vmpl)
    : device_(std::move(device)), fd_(fd), vmpl_(vmpl) {}

SevGuestIssuer::~SevGuestIssuer() {
  if (fd_ >= 0) ::close(fd_);
}

std::string_view SevGuestIssuer::platform() const { return kPlatformSnp; }

Result<Evidence> SevGuestIssuer::Issue(const ReportData& report_data) {
  const std::string source = device_.string();
  ReportExchange exchange;
  std::memcpy(exchange.ext.data.user_data, report_data.data(), report_data.size());
  exchange.ext.data.vmpl = static_cast<uint32_t>(vmpl_);

  // The extended report: the host's certificate table comes with it. When
  // the buffer is too small the kernel says how large it must be.
  Bytes certs(kInitialCertsSize, 0);
  std::string ext_failure;
  for (int round = 0; round < kMaxExtReportRounds; ++round) {
    exchange.ext.certs_address = reinterpret_cast<uintptr_t>(certs.data());
    exchange.ext.certs_len = static_cast<uint32_t>(certs.size());
    const int error = exchange.Call(fd_, SNP_GET_EXT_REPORT, &exchange.ext);
    if (error == 0) {
      auto report = ParseReportResponse(ByteView(exchange.resp.data, sizeof exchange.resp.data));
      if (!report) return Fail(report.error().Wrap(source + ": SNP_GET_EXT_REPORT"));
      return MakeSnpEvidence(kPlatformSnp, std::move(*report), certs, report_data, source + " SNP_GET_EXT_REPORT");
    }
    ext_failure = DescribeFailure(device_, "SNP_GET_EXT_REPORT", error, exchange.ioctl_args);
    if (exchange.ioctl_args.vmm_error != SNP_GUEST_VMM_ERR_INVALID_LEN) break;
    const auto larger = CertsRetrySize(exchange.ext.certs_len, certs.size(),
                                       static_cast<size_t>(::sysconf(_SC_PAGESIZE)), kMaxCertsSize);
    if (!larger) {
      ext_failure += "; the host asked for a " + std::to_string(exchange.ext.certs_len) +
                     "-byte certificate buffer, which is not accepted";
      break;
    }
    certs.assign(*larger, 0);
  }

  // No extended report from this host: the report alone, whose VCEK the
  // verifier fetches from AMD's KDS.
  const int error = exchange.Call(fd_, SNP_GET_REPORT, &exchange.ext.data);
  if (error != 0) {
    return Fail(ErrorCode::kIo,
                DescribeFailure(device_, "SNP_GET_REPORT", error, exchange.ioctl_args) + "; before it " + ext_failure);
  }
  auto report = ParseReportResponse(ByteView(exchange.resp.data, sizeof exchange.resp.data));
  if (!report) return Fail(report.error().Wrap(source + ": SNP_GET_REPORT"));
  return MakeSnpEvidence(kPlatformSnp, std::move(*report), ByteView(), report_data, source + " SNP_GET_REPORT");
}

}  // namespace contrast::attest::tsm
