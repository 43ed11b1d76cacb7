#include "attest/tdx/reference_values.h"

#include <algorithm>
#include <exception>
#include <initializer_list>
#include <set>

#include <nlohmann/json.hpp>

#include "common/bytes.h"
#include "common/text.h"

namespace contrast::attest::tdx {
namespace {

using nlohmann::json;

constexpr size_t kMaxProblems = 100;
constexpr int kMaxJsonDepth = 64;
constexpr size_t kMaxJsonSize = size_t{1} << 20;

// TDATTRIBUTES (little-endian u64): bit 0 DEBUG, bit 28 SEPT_VE_DISABLE.
constexpr uint8_t kDebugByte0Mask = 0x01;
// Upstream hard-codes SEPT_VE_DISABLE alone when no TdAttributes are given.
constexpr std::array<uint8_t, 8> kDefaultTdAttributes = {0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00};

constexpr std::string_view kKnownKeys[] = {"Platform",
                                           "MinTCBEvaluationDataNumber",
                                           "MrTd",
                                           "MrSeam",
                                           "Rtmrs",
                                           "Rtrms",
                                           "Xfam",
                                           "AllowedPIIDs",
                                           "MemoryIntegrity",
                                           "SMTDisabled",
                                           "StaticPlatform",
                                           "CPUs",
                                           "MinimumQeSvn",
                                           "MinimumPceSvn",
                                           "MinimumTeeTcbSvn",
                                           "TdAttributes",
                                           "AcceptedTcbStatuses"};

std::string Describe(const json& v) {
  if (v.is_number()) return "number " + PrintableExcerpt(v.dump());
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_string()) return "string \"" + PrintableExcerpt(v.get_ref<const std::string&>()) + "\"";
  return v.type_name();
}

// Collects problems, keeping at most kMaxProblems lines in the shared list.
class Reader {
 public:
  explicit Reader(std::vector<std::string>& problems) : problems_(problems) {}
  ~Reader() {
    if (dropped_ > 0) problems_.push_back("(" + std::to_string(dropped_) + " more problems not shown)");
  }
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  void Problem(const std::string& path, const std::string& message) {
    if (problems_.size() >= kMaxProblems) {
      ++dropped_;
      return;
    }
    problems_.push_back(path + ": " + message);
  }

  // The member, or nullptr when absent or null (Go writes nil as null).
  static const json* Member(const json& object, std::string_view key) {
    const auto it = object.find(key);
    if (it == object.end() || it->is_null()) return nullptr;
    return &*it;
  }

  std::optional<uint64_t> Unsigned(const json& v, const std::string& path, uint64_t max) {
    const std::string range = "(0.." + std::to_string(max) + ")";
    if (v.is_number_unsigned()) {
      const uint64_t n = v.get<uint64_t>();
      if (n <= max) return n;
      Problem(path, "out of range " + range + ", got " + std::to_string(n));
    } else if (v.is_number_integer()) {
      Problem(path, "out of range " + range + ", got " + std::to_string(v.get<int64_t>()));
    } else {
      Problem(path, "expected an integer " + range + ", got " + Describe(v));
    }
    return std::nullopt;
  }

  std::optional<bool> Bool(const json& v, const std::string& path) {
    if (v.is_boolean()) return v.get<bool>();
    Problem(path, "expected true or false, got " + Describe(v));
    return std::nullopt;
  }

  template <size_t N>
  std::optional<std::array<uint8_t, N>> Hex(const json& v, const std::string& path) {
    const std::string want = "expected " + std::to_string(N) + " bytes of hex";
    if (!v.is_string()) {
      Problem(path, want + ", got " + Describe(v));
      return std::nullopt;
    }
    auto bytes = HexDecode(v.get_ref<const std::string&>());
    if (!bytes) {
      Problem(path, want + ", got invalid hex (" + bytes.error().message + ")");
      return std::nullopt;
    }
    if (bytes->size() != N) {
      Problem(path, want + ", got " + std::to_string(bytes->size()));
      return std::nullopt;
    }
    std::array<uint8_t, N> out;
    std::copy(bytes->begin(), bytes->end(), out.begin());
    return out;
  }

 private:
  std::vector<std::string>& problems_;
  size_t dropped_ = 0;
};

TdxReferenceValues ReadEntry(Reader& r, const json& v, const std::string& path) {
  TdxReferenceValues out;
  if (!v.is_object()) {
    r.Problem(path, "expected an object, got " + Describe(v));
    return out;
  }
  for (const auto& [key, unused] : v.items()) {
    if (std::find(std::begin(kKnownKeys), std::end(kKnownKeys), key) == std::end(kKnownKeys)) {
      r.Problem(path + "." + PrintableExcerpt(key), "unknown field");
    }
  }
  auto sub = [&path](std::string_view key) { return path + "." + std::string(key); };
  auto flag = [&](std::string_view key, bool& field) {
    if (const json* value = Reader::Member(v, key)) {
      if (auto b = r.Bool(*value, sub(key))) field = *b;
    }
  };
  auto required_hex48 = [&](std::string_view key, std::array<uint8_t, 48>& field) {
    if (const json* value = Reader::Member(v, key)) {
      if (auto h = r.Hex<48>(*value, sub(key))) field = *h;
    } else {
      r.Problem(sub(key), "missing");
    }
  };

  if (const json* value = Reader::Member(v, "Platform")) {
    if (value->is_string()) {
      out.platform = value->get<std::string>();
    } else {
      r.Problem(sub("Platform"), "expected a string, got " + Describe(*value));
    }
  }
  if (const json* value = Reader::Member(v, "MinTCBEvaluationDataNumber")) {
    if (auto n = r.Unsigned(*value, sub("MinTCBEvaluationDataNumber"), UINT32_MAX)) {
      out.min_tcb_evaluation_data_number = static_cast<uint32_t>(*n);
    }
  }
  required_hex48("MrTd", out.mr_td);
  required_hex48("MrSeam", out.mr_seam);

  const json* rtmrs = Reader::Member(v, "Rtmrs");
  std::string rtmrs_key = "Rtmrs";
  if (const json* older = Reader::Member(v, "Rtrms")) {
    if (rtmrs != nullptr) {
      r.Problem(sub("Rtrms"), "given together with Rtmrs (Rtrms is the older spelling of the same field)");
    } else {
      rtmrs = older;
      rtmrs_key = "Rtrms";
    }
  }
  if (rtmrs == nullptr) {
    r.Problem(sub("Rtmrs"), "missing");
  } else if (!rtmrs->is_array() || rtmrs->size() != out.rtmrs.size()) {
    r.Problem(sub(rtmrs_key),
              "expected an array of 4 hex strings (RTMR0..3), got " +
                  (rtmrs->is_array() ? "an array of " + std::to_string(rtmrs->size()) : Describe(*rtmrs)));
  } else {
    for (size_t i = 0; i < out.rtmrs.size(); ++i) {
      if (auto h = r.Hex<48>((*rtmrs)[i], sub(rtmrs_key) + "[" + std::to_string(i) + "]")) out.rtmrs[i] = *h;
    }
  }

  if (const json* value = Reader::Member(v, "Xfam")) {
    if (auto h = r.Hex<8>(*value, sub("Xfam"))) out.xfam = *h;
  } else {
    r.Problem(sub("Xfam"), "missing");
  }
  if (const json* value = Reader::Member(v, "AllowedPIIDs")) {
    if (!value->is_array()) {
      r.Problem(sub("AllowedPIIDs"), "expected an array of hex strings, got " + Describe(*value));
    } else {
      for (size_t i = 0; i < value->size(); ++i) {
        if (auto h = r.Hex<16>((*value)[i], sub("AllowedPIIDs") + "[" + std::to_string(i) + "]")) {
          out.allowed_piids.push_back(*h);
        }
      }
    }
  }
  flag("MemoryIntegrity", out.memory_integrity);
  flag("SMTDisabled", out.smt_disabled);
  flag("StaticPlatform", out.static_platform);
  if (const json* value = Reader::Member(v, "CPUs")) {
    if (auto n = r.Unsigned(*value, sub("CPUs"), UINT64_MAX)) out.cpus = *n;
  }
  if (const json* value = Reader::Member(v, "MinimumQeSvn")) {
    if (auto n = r.Unsigned(*value, sub("MinimumQeSvn"), UINT16_MAX)) out.minimum_qe_svn = static_cast<uint16_t>(*n);
  }
  if (const json* value = Reader::Member(v, "MinimumPceSvn")) {
    if (auto n = r.Unsigned(*value, sub("MinimumPceSvn"), UINT16_MAX)) out.minimum_pce_svn = static_cast<uint16_t>(*n);
  }
  if (const json* value = Reader::Member(v, "MinimumTeeTcbSvn")) {
    out.minimum_tee_tcb_svn = r.Hex<16>(*value, sub("MinimumTeeTcbSvn"));
  }
  if (const json* value = Reader::Member(v, "TdAttributes")) {
    out.td_attributes = r.Hex<8>(*value, sub("TdAttributes"));
    if (out.td_attributes && ((*out.td_attributes)[0] & kDebugByte0Mask) != 0) {
      // A debuggable TD's memory and registers are readable by the host.
      r.Problem(sub("TdAttributes"), "DEBUG (bit 0) must be clear: a debuggable TD is never acceptable");
    }
  }
  if (const json* value = Reader::Member(v, "AcceptedTcbStatuses")) {
    if (!value->is_array()) {
      r.Problem(sub("AcceptedTcbStatuses"), "expected an array of TCB status names, got " + Describe(*value));
    } else {
      for (size_t i = 0; i < value->size(); ++i) {
        const std::string at = sub("AcceptedTcbStatuses") + "[" + std::to_string(i) + "]";
        const json& name = (*value)[i];
        auto status = name.is_string() ? ParseTcbStatus(name.get_ref<const std::string&>())
                                       : Result<TcbStatus>(Fail(ErrorCode::kParse, "expected a string"));
        if (!status) {
          r.Problem(at, status.error().message +
                            " (expected UpToDate, SWHardeningNeeded, ConfigurationNeeded, "
                            "ConfigurationAndSWHardeningNeeded, OutOfDate or "
                            "OutOfDateConfigurationNeeded)");
        } else if (*status == TcbStatus::kRevoked) {
          // Intel revoked this TCB: its keys may be known to others.
          r.Problem(at, "a Revoked TCB is never acceptable");
        } else if (std::find(out.accepted_tcb_statuses.begin(), out.accepted_tcb_statuses.end(), *status) !=
                   out.accepted_tcb_statuses.end()) {
          r.Problem(at, "duplicate \"" + std::string(TcbStatusName(*status)) + "\"");
        } else {
          out.accepted_tcb_statuses.push_back(*status);
        }
      }
    }
  }
  return out;
}

// --- Validation -------------------------------------------------------------

std::string Hex(ByteView bytes) { return HexEncode(bytes); }

class Collector {
 public:
  explicit Collector(TdxValidationResult& out) : out_(out) {}
  void Add(ErrorCode code, std::string field, std::string expected, std::string actual) {
    out_.mismatches.push_back(TdxMismatch{code, std::move(field), std::move(expected), std::move(actual), {}});
  }
  template <size_t N>
  void Equal(ErrorCode code, std::string field, const std::array<uint8_t, N>& expected,
             const std::array<uint8_t, N>& actual) {
    if (expected != actual) Add(code, std::move(field), Hex(expected), Hex(actual));
  }

 private:
  TdxValidationResult& out_;
};

void CheckPolicyBinding(Collector& c, const TdMeasurements& td, std::span<const PolicyDigest> allowed) {
  std::array<uint8_t, 48> padded{};
  for (const PolicyDigest& digest : allowed) {
    std::copy(digest.begin(), digest.end(), padded.begin());
    if (padded == td.mrconfigid) return;
  }
  std::string expected;
  if (allowed.empty()) {
    expected = "one of the allowed policy digests (none given)";
  } else {
    expected = "one of the allowed policy digests, zero-padded to 48 bytes (";
    for (size_t i = 0; i < allowed.size() && i < 4; ++i) expected += (i > 0 ? ", " : "") + Hex(allowed[i]);
    if (allowed.size() > 4) expected += ", ... " + std::to_string(allowed.size()) + " in all";
    expected += ")";
  }
  c.Add(ErrorCode::kPolicyViolation, "MRCONFIGID", expected, Hex(td.mrconfigid));
}

void CheckPck(Collector& c, const TdxReferenceValues& rv, const TdMeasurements& td) {
  if (!rv.allowed_piids.empty()) {
    const bool listed = td.platform_instance_id && std::find(rv.allowed_piids.begin(), rv.allowed_piids.end(),
                                                             *td.platform_instance_id) != rv.allowed_piids.end();
    if (!listed) {
      c.Add(ErrorCode::kPolicyViolation, "PCK.PlatformInstanceID",
            "one of AllowedPIIDs (" + std::to_string(rv.allowed_piids.size()) + ")",
            td.platform_instance_id ? Hex(*td.platform_instance_id) : "unknown");
    }
  }
  auto require = [&c](bool required, const std::optional<bool>& actual, bool want, const char* field) {
    if (!required || actual == want) return;
    c.Add(ErrorCode::kPolicyViolation, field, want ? "true" : "false",
          actual ? (*actual ? "true" : "false") : "unknown");
  };
  require(rv.memory_integrity, td.memory_integrity, true, "PCK.MemoryIntegrity");
  require(rv.smt_disabled, td.smt_enabled, false, "PCK.SMTEnabled");
  require(rv.static_platform, td.dynamic_platform, false, "PCK.DynamicPlatform");
}

void CheckMinimums(Collector& c, const TdxReferenceValues& rv, const TdMeasurements& td) {
  auto at_least = [&c](const char* field, uint64_t minimum, const auto& actual) {
    if (actual && static_cast<uint64_t>(*actual) >= minimum) return;
    c.Add(ErrorCode::kTcbTooLow, field, ">= " + std::to_string(minimum), actual ? std::to_string(*actual) : "unknown");
  };
  if (rv.min_tcb_evaluation_data_number > 0) {
    at_least("TCB_EVALUATION_DATA_NUMBER", rv.min_tcb_evaluation_data_number, td.tcb_evaluation_data_number);
  }
  if (rv.minimum_qe_svn) at_least("QE_SVN", *rv.minimum_qe_svn, td.qe_svn);
  if (rv.minimum_pce_svn) at_least("PCE_SVN", *rv.minimum_pce_svn, td.pce_svn);
  if (rv.minimum_tee_tcb_svn) {
    const auto& minimum = *rv.minimum_tee_tcb_svn;
    for (size_t i = 0; i < minimum.size(); ++i) {
      if (td.tee_tcb_svn[i] < minimum[i]) {
        c.Add(ErrorCode::kTcbTooLow, "TEE_TCB_SVN", ">= " + Hex(minimum) + " component-wise",
              Hex(td.tee_tcb_svn) + " (component " + std::to_string(i) + ")");
        break;
      }
    }
  }
}

std::vector<TcbStatus> AcceptedTcbStatuses(const TdxReferenceValues& rv) {
  if (rv.accepted_tcb_statuses.empty()) return {TcbStatus::kUpToDate};
  return rv.accepted_tcb_statuses;
}

void CheckTcbStatus(Collector& c, const TdxReferenceValues& rv, const TdMeasurements& td) {
  // Without a status from the verifier, the caller applied its own default
  // (the CLI's --accept-tcb-status); an explicit list still cannot pass.
  if (rv.accepted_tcb_statuses.empty() && !td.tcb_status) return;
  const std::vector<TcbStatus> accepted = AcceptedTcbStatuses(rv);
  if (td.tcb_status && std::find(accepted.begin(), accepted.end(), *td.tcb_status) != accepted.end()) return;
  std::string expected = "one of ";
  for (size_t i = 0; i < accepted.size(); ++i)
    expected += (i > 0 ? ", " : "") + std::string(TcbStatusName(accepted[i]));
  c.Add(ErrorCode::kTcbTooLow, "TCB_STATUS", expected,
        td.tcb_status ? std::string(TcbStatusName(*td.tcb_status)) : "unknown");
}

void ValidateEntry(Collector& c, const TdxReferenceValues& rv, const TdMeasurements& td,
                   std::span<const PolicyDigest> allowed, const TdxValidateOptions& options) {
  c.Equal(ErrorCode::kMeasurementMismatch, "MRTD", rv.mr_td, td.mrtd);
  for (size_t i = 0; i < rv.rtmrs.size(); ++i) {
    c.Equal(ErrorCode::kMeasurementMismatch, "RTMR" + std::to_string(i), rv.rtmrs[i], td.rtmr[i]);
  }
  c.Equal(ErrorCode::kMeasurementMismatch, "MRSEAM", rv.mr_seam, td.mrseam);
  c.Equal(ErrorCode::kPolicyViolation, "XFAM", rv.xfam, td.xfam);
  c.Equal(ErrorCode::kPolicyViolation, "TDATTRIBUTES", rv.td_attributes.value_or(kDefaultTdAttributes),
          td.td_attributes);
  CheckPolicyBinding(c, td, allowed);
  if (options.expected_report_data) {
    c.Equal(ErrorCode::kValidationFailed, "REPORTDATA", *options.expected_report_data, td.report_data);
  }
  CheckMinimums(c, rv, td);
  CheckPck(c, rv, td);
  CheckTcbStatus(c, rv, td);
}

std::string JoinLines(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines) {
    if (!out.empty()) out += '\n';
    out += line;
  }
  return out;
}

// Thrown from the parser callback to stop at the depth limit.
struct TooDeep {};

}  // namespace

std::optional<PolicyDigest> PolicyDigestFromMrConfigId(const std::array<uint8_t, 48>& mrconfigid) {
  if (!std::all_of(mrconfigid.begin() + 32, mrconfigid.end(), [](uint8_t b) { return b == 0; })) return std::nullopt;
  PolicyDigest out;
  std::copy(mrconfigid.begin(), mrconfigid.begin() + 32, out.begin());
  return out;
}

std::string TdxMismatch::Message() const {
  std::string out = entry ? "ReferenceValues.tdx[" + std::to_string(*entry) + "]: " : "";
  return out + field + ": expected " + expected + ", got " + actual;
}

std::string TdxValidationResult::Message() const {
  std::vector<std::string> lines;
  for (const TdxMismatch& m : mismatches) lines.push_back(m.Message());
  return JoinLines(lines);
}

Status TdxValidationResult::ToStatus() const {
  if (ok()) return {};
  ErrorCode code = mismatches.front().code;
  for (const TdxMismatch& m : mismatches) {
    if (m.code != code) code = ErrorCode::kValidationFailed;
  }
  return Fail(code, Message());
}

TdxValidationResult ValidateBaseline(const TdMeasurements& td) {
  TdxValidationResult out;
  if ((td.td_attributes[0] & kDebugByte0Mask) != 0) {
    Collector(out).Add(ErrorCode::kPolicyViolation, "TDATTRIBUTES.DEBUG", "0 (a debuggable TD is never acceptable)",
                       "1");
  }
  return out;
}

TdxValidationResult Validate(const TdxReferenceValues& reference_values, const TdMeasurements& td,
                             std::span<const PolicyDigest> allowed_policy_digests, const TdxValidateOptions& options) {
  TdxValidationResult out = ValidateBaseline(td);
  Collector c(out);
  ValidateEntry(c, reference_values, td, allowed_policy_digests, options);
  return out;
}

TdxValidationResult ValidateAgainstAny(std::span<const TdxReferenceValues> entries, const TdMeasurements& td,
                                       std::span<const PolicyDigest> allowed_policy_digests,
                                       const TdxValidateOptions& options) {
  TdxValidationResult out = ValidateBaseline(td);
  if (entries.empty()) {
    Collector(out).Add(ErrorCode::kValidationFailed, "ReferenceValues.tdx", "at least one entry", "none");
    return out;
  }
  TdxValidationResult per_entry;
  for (size_t i = 0; i < entries.size(); ++i) {
    TdxValidationResult one;
    Collector c(one);
    ValidateEntry(c, entries[i], td, allowed_policy_digests, options);
    if (one.ok()) {
      if (out.ok()) out.matched_entry = i;
      return out;
    }
    for (TdxMismatch& m : one.mismatches) {
      m.entry = i;
      per_entry.mismatches.push_back(std::move(m));
    }
  }
  for (TdxMismatch& m : per_entry.mismatches) out.mismatches.push_back(std::move(m));
  return out;
}

TdxReferenceValues ReadTdxReferenceValues(const json& entry, const std::string& path,
                                          std::vector<std::string>& problems) {
  try {
    Reader r(problems);
    return ReadEntry(r, entry, path);
  } catch (const std::exception& e) {
    // Defensive: the reader checks types before every access.
    problems.push_back(path + ": " + e.what());
    return {};
  }
}

Result<TdxReferenceValues> ParseTdxReferenceValues(std::string_view json_text, const std::string& path) {
  if (json_text.size() > kMaxJsonSize) {
    return Fail(ErrorCode::kParse, path + ": JSON is " + std::to_string(json_text.size()) +
                                       " bytes, more than the limit of " + std::to_string(kMaxJsonSize));
  }
  // nlohmann keeps the last of duplicate keys silently; a verifier must not
  // read a different value than another tool reading the same text.
  std::vector<std::string> problems;
  std::vector<std::set<std::string>> open_objects;
  const json::parser_callback_t callback = [&](int depth, json::parse_event_t event, json& parsed) {
    if (depth > kMaxJsonDepth) throw TooDeep{};
    switch (event) {
      case json::parse_event_t::object_start: open_objects.emplace_back(); break;
      case json::parse_event_t::object_end:
        if (!open_objects.empty()) open_objects.pop_back();
        break;
      case json::parse_event_t::key:
        if (!open_objects.empty() && !open_objects.back().insert(parsed.get<std::string>()).second &&
            problems.size() < kMaxProblems) {
          problems.push_back(path + ": duplicate key \"" + PrintableExcerpt(parsed.get<std::string>()) + "\"");
        }
        break;
      default: break;
    }
    return true;
  };
  try {
    const json value = json::parse(json_text.begin(), json_text.end(), callback);
    TdxReferenceValues out = ReadTdxReferenceValues(value, path, problems);
    if (!problems.empty()) return Fail(ErrorCode::kParse, JoinLines(problems));
    return out;
  } catch (const TooDeep&) {
    return Fail(ErrorCode::kParse, path + ": JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  } catch (const json::exception& e) {
    return Fail(ErrorCode::kParse, path + ": invalid JSON: " + PrintableExcerpt(e.what(), 240));
  } catch (const std::exception& e) {
    return Fail(ErrorCode::kParse, path + ": " + e.what());
  }
}

json TdxReferenceValuesToJson(const TdxReferenceValues& rv) {
  json j = json::object();
  if (!rv.platform.empty()) j["Platform"] = rv.platform;
  j["MinTCBEvaluationDataNumber"] = rv.min_tcb_evaluation_data_number;
  j["MrTd"] = HexEncode(rv.mr_td);
  j["MrSeam"] = HexEncode(rv.mr_seam);
  j["Rtmrs"] = json::array();
  for (const auto& rtmr : rv.rtmrs) j["Rtmrs"].push_back(HexEncode(rtmr));
  j["Xfam"] = HexEncode(rv.xfam);
  j["AllowedPIIDs"] = json::array();
  for (const auto& piid : rv.allowed_piids) j["AllowedPIIDs"].push_back(HexEncode(piid));
  j["MemoryIntegrity"] = rv.memory_integrity;
  j["SMTDisabled"] = rv.smt_disabled;
  j["StaticPlatform"] = rv.static_platform;
  if (rv.cpus != 0) j["CPUs"] = rv.cpus;
  if (rv.minimum_qe_svn) j["MinimumQeSvn"] = *rv.minimum_qe_svn;
  if (rv.minimum_pce_svn) j["MinimumPceSvn"] = *rv.minimum_pce_svn;
  if (rv.minimum_tee_tcb_svn) j["MinimumTeeTcbSvn"] = HexEncode(*rv.minimum_tee_tcb_svn);
  if (rv.td_attributes) j["TdAttributes"] = HexEncode(*rv.td_attributes);
  if (!rv.accepted_tcb_statuses.empty()) {
    j["AcceptedTcbStatuses"] = json::array();
    for (TcbStatus status : rv.accepted_tcb_statuses) j["AcceptedTcbStatuses"].push_back(TcbStatusName(status));
  }
  return j;
}

}  // namespace contrast::attest::tdx
