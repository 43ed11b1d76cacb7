#include "attest/snp/reference_values.h"
#include "common/text.h"

#include <algorithm>
#include <exception>
#include <initializer_list>
#include <set>

#include <nlohmann/json.hpp>

namespace contrast::attest::snp {
namespace {

using nlohmann::json;

std::string Describe(const json& v) {
  if (v.is_number()) return "number " + PrintableExcerpt(v.dump());
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  return v.type_name();
}

// Collects problems, keeping at most kMaxReportedParseProblems of them.
class Reader {
 public:
  explicit Reader(ParseProblems& problems) : problems_(problems) {}
  ~Reader() {
    if (dropped_ > 0) problems_.push_back("(" + std::to_string(dropped_) + " more problems not shown)");
  }
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  void Problem(const std::string& path, const std::string& message) {
    if (problems_.size() >= kMaxReportedParseProblems) {
      ++dropped_;
      return;
    }
    problems_.push_back(path + ": " + message);
  }

  // True when `v` is an object; reports every key not in `known`.
  bool Object(const json& v, const std::string& path, std::initializer_list<std::string_view> known) {
    if (!v.is_object()) {
      Problem(path, "expected an object, got " + Describe(v));
      return false;
    }
    for (const auto& [key, unused] : v.items()) {
      if (std::find(known.begin(), known.end(), key) == known.end()) {
        Problem(path + "." + PrintableExcerpt(key), "unknown field");
      }
    }
    return true;
  }

  // The member, or nullptr when absent or null (Go writes nil as null).
  static const json* Member(const json& object, std::string_view key) {
    const auto it = object.find(key);
    if (it == object.end() || it->is_null()) return nullptr;
    return &*it;
  }

  std::optional<uint64_t> Unsigned(const json& v, const std::string& path, uint64_t min, uint64_t max) {
    const std::string range = "(" + std::to_string(min) + ".." + std::to_string(max) + ")";
    if (v.is_number_unsigned()) {
      const uint64_t n = v.get<uint64_t>();
      if (n >= min && n <= max) return n;
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

  std::optional<std::string> String(const json& v, const std::string& path) {
    if (v.is_string()) return v.get<std::string>();
    Problem(path, "expected a string, got " + Describe(v));
    return std::nullopt;
  }

  template <size_t N>
  std::optional<ByteArray<N>> Hex(const json& v, const std::string& path) {
    const std::string want = "expected " + std::to_string(N) + " bytes of hex";
    if (!v.is_string()) {
      Problem(path, want + ", got " + Describe(v));
      return std::nullopt;
    }
    const std::string& text = v.get_ref<const std::string&>();
    auto bytes = HexDecode(text);
    if (!bytes) {
      Problem(path, want + ", got invalid hex (" + bytes.error().message + ")");
      return std::nullopt;
    }
    if (bytes->size() != N) {
      Problem(path, want + ", got " + std::to_string(bytes->size()));
      return std::nullopt;
    }
    ByteArray<N> out;
    std::copy(bytes->begin(), bytes->end(), out.begin());
    return out;
  }

  template <size_t N>
  std::vector<ByteArray<N>> HexList(const json& v, const std::string& path) {
    std::vector<ByteArray<N>> out;
    if (!v.is_array()) {
      Problem(path, "expected an array of hex strings, got " + Describe(v));
      return out;
    }
    for (size_t i = 0; i < v.size(); ++i) {
      if (auto item = Hex<N>(v[i], path + "[" + std::to_string(i) + "]")) out.push_back(*item);
    }
    return out;
  }

 private:
  ParseProblems& problems_;
  size_t dropped_ = 0;
};

bool AllZero(ByteView bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; });
}

void ReadMinimumTcb(Reader& r, const json& v, const std::string& path, Product product, TcbParts& out) {
  if (!r.Object(v, path, {"BootloaderVersion", "TEEVersion", "SNPVersion", "MicrocodeVersion", "FMCVersion"})) return;
  auto component = [&](std::string_view key, uint8_t& field, bool required) {
    const std::string sub = path + "." + std::string(key);
    const json* value = Reader::Member(v, key);
    if (value == nullptr) {
      if (required) r.Problem(sub, "missing");
      return;
    }
    if (auto n = r.Unsigned(*value, sub, 0, 255)) field = static_cast<uint8_t>(*n);
  };
  component("BootloaderVersion", out.bootloader, true);
  component("TEEVersion", out.tee, true);
  component("SNPVersion", out.snp, true);
  component("MicrocodeVersion", out.microcode, true);
  if (Reader::Member(v, "FMCVersion") != nullptr && product != Product::kTurin && product != Product::kUnknown) {
    r.Problem(path + ".FMCVersion",
              "only Turin has an FMC version, but ProductName is " + std::string(ProductName(product)));
    return;
  }
  component("FMCVersion", out.fmc, false);
}

void ReadGuestPolicy(Reader& r, const json& v, const std::string& path, GuestPolicy& out) {
  if (!r.Object(v, path,
                {"ABIMinor", "ABIMajor", "SMT", "MigrateMA", "Debug", "SingleSocket", "CXLAllowed", "MemAES256XTS",
                 "RAPLDis", "CipherTextHidingDRAM", "PageSwapDisable"})) {
    return;
  }
  auto abi = [&](std::string_view key, uint8_t& field) {
    if (const json* value = Reader::Member(v, key)) {
      if (auto n = r.Unsigned(*value, path + "." + std::string(key), 0, 255)) field = static_cast<uint8_t>(*n);
    }
  };
  auto flag = [&](std::string_view key, bool& field) {
    if (const json* value = Reader::Member(v, key)) {
      if (auto b = r.Bool(*value, path + "." + std::string(key))) field = *b;
    }
  };
  abi("ABIMinor", out.abi_minor);
  abi("ABIMajor", out.abi_major);
  flag("SMT", out.smt);
  flag("MigrateMA", out.migrate_ma);
  flag("Debug", out.debug);
  flag("SingleSocket", out.single_socket);
  flag("CXLAllowed", out.cxl_allowed);
  flag("MemAES256XTS", out.mem_aes_256_xts);
  flag("RAPLDis", out.rapl_dis);
  flag("CipherTextHidingDRAM", out.ciphertext_hiding_dram);
  flag("PageSwapDisable", out.page_swap_disable);
  // A debuggable guest's memory is readable by the host; a migration agent
  // can move the guest's state out. Neither is ever acceptable.
  if (out.debug) r.Problem(path + ".Debug", "must be false (a debuggable guest is never acceptable)");
  if (out.migrate_ma) r.Problem(path + ".MigrateMA", "must be false (migration agents are not supported)");
}

void ReadPlatformInfo(Reader& r, const json& v, const std::string& path, PlatformInfo& out) {
  if (!r.Object(v, path,
                {"SMTEnabled", "TSMEEnabled", "ECCEnabled", "RAPLDisabled", "CiphertextHidingDRAMEnabled",
                 "AliasCheckComplete", "TIOEnabled"})) {
    return;
  }
  auto flag = [&](std::string_view key, bool& field) {
    if (const json* value = Reader::Member(v, key)) {
      if (auto b = r.Bool(*value, path + "." + std::string(key))) field = *b;
    }
  };
  flag("SMTEnabled", out.smt_enabled);
  flag("TSMEEnabled", out.tsme_enabled);
  flag("ECCEnabled", out.ecc_enabled);
  flag("RAPLDisabled", out.rapl_disabled);
  flag("CiphertextHidingDRAMEnabled", out.ciphertext_hiding_dram_enabled);
  flag("AliasCheckComplete", out.alias_check_complete);
  flag("TIOEnabled", out.tio_enabled);
}

SnpReferenceValues ReadEntry(Reader& r, const json& v, const std::string& path) {
  SnpReferenceValues out;
  if (!r.Object(v, path,
                {"Platform", "ProductName", "TrustedMeasurement", "MinimumTCB", "GuestPolicy", "PlatformInfo",
                 "MinimumMitigationVector", "AllowedChipIDs", "TrustedHostData", "TrustedIDKeyDigests",
                 "MinimumReportVersion", "RequiredVMPL", "PermitProvisionalFirmware", "AllowMissingRevocationCheck",
                 "APEIP"})) {
    return out;
  }
  auto sub = [&path](std::string_view key) { return path + "." + std::string(key); };

  if (const json* value = Reader::Member(v, "Platform")) {
    if (auto s = r.String(*value, sub("Platform"))) out.platform = *s;
  }
  if (const json* value = Reader::Member(v, "ProductName")) {
    if (auto s = r.String(*value, sub("ProductName"))) {
      if (*s == "Milan") {
        out.product = Product::kMilan;
      } else if (*s == "Genoa") {
        out.product = Product::kGenoa;
      } else if (*s == "Turin") {
        out.product = Product::kTurin;
      } else {
        r.Problem(sub("ProductName"),
                  "expected \"Milan\", \"Genoa\" or \"Turin\", got \"" + PrintableExcerpt(*s) + "\"");
      }
    }
  } else {
    r.Problem(sub("ProductName"), "missing");
  }
  if (const json* value = Reader::Member(v, "TrustedMeasurement")) {
    if (auto m = r.Hex<48>(*value, sub("TrustedMeasurement"))) out.trusted_measurement = *m;
  } else {
    r.Problem(sub("TrustedMeasurement"), "missing");
  }
  if (Reader::Member(v, "APEIP") != nullptr) {
    r.Problem(sub("APEIP"),
              "not supported yet (measurements for several vCPU counts); give the exact "
              "TrustedMeasurement instead");
  }
  if (const json* value = Reader::Member(v, "MinimumTCB")) {
    ReadMinimumTcb(r, *value, sub("MinimumTCB"), out.product, out.minimum_tcb);
  } else {
    r.Problem(sub("MinimumTCB"), "missing");
  }
  if (const json* value = Reader::Member(v, "GuestPolicy"))
    ReadGuestPolicy(r, *value, sub("GuestPolicy"), out.guest_policy);
  if (const json* value = Reader::Member(v, "PlatformInfo")) {
    ReadPlatformInfo(r, *value, sub("PlatformInfo"), out.platform_info);
  }
  if (const json* value = Reader::Member(v, "MinimumMitigationVector")) {
    if (auto n = r.Unsigned(*value, sub("MinimumMitigationVector"), 0, UINT64_MAX)) out.minimum_mitigation_vector = *n;
  }
  if (const json* value = Reader::Member(v, "AllowedChipIDs")) {
    out.allowed_chip_ids = r.HexList<64>(*value, sub("AllowedChipIDs"));
    for (size_t i = 0; i < out.allowed_chip_ids.size(); ++i) {
      if (AllZero(out.allowed_chip_ids[i])) {
        // A platform that masks its chip id reports all zeros: such an entry
        // would admit every masked platform.
        r.Problem(sub("AllowedChipIDs") + "[" + std::to_string(i) + "]",
                  "an all-zero chip id would match every platform that masks its chip id");
      }
    }
  }
  if (const json* value = Reader::Member(v, "TrustedHostData")) {
    out.trusted_host_data = r.Hex<32>(*value, sub("TrustedHostData"));
  }
  if (const json* value = Reader::Member(v, "TrustedIDKeyDigests")) {
    out.trusted_id_key_digests = r.HexList<48>(*value, sub("TrustedIDKeyDigests"));
  }
  if (const json* value = Reader::Member(v, "MinimumReportVersion")) {
    if (auto n = r.Unsigned(*value, sub("MinimumReportVersion"), kMinReportVersion, kMaxReportVersion)) {
      out.minimum_report_version = static_cast<uint32_t>(*n);
    }
  }
  if (const json* value = Reader::Member(v, "RequiredVMPL")) {
    if (auto n = r.Unsigned(*value, sub("RequiredVMPL"), 0, 3)) out.required_vmpl = static_cast<uint32_t>(*n);
  }
  if (const json* value = Reader::Member(v, "PermitProvisionalFirmware")) {
    if (auto b = r.Bool(*value, sub("PermitProvisionalFirmware"))) out.permit_provisional_firmware = *b;
  }
  if (const json* value = Reader::Member(v, "AllowMissingRevocationCheck")) {
    if (auto b = r.Bool(*value, sub("AllowMissingRevocationCheck"))) out.allow_missing_revocation_check = *b;
  }
  return out;
}

ReferenceValues ReadObject(Reader& r, const json& v, const std::string& path) {
  ReferenceValues out;
  if (!r.Object(v, path, {"snp", "tdx"})) return out;
  bool any_entry = false;
  bool malformed = false;
  if (const json* snp = Reader::Member(v, "snp")) {
    if (!snp->is_array()) {
      r.Problem(path + ".snp", "expected an array, got " + Describe(*snp));
      malformed = true;
    } else {
      any_entry = any_entry || !snp->empty();
      for (size_t i = 0; i < snp->size(); ++i) {
        out.snp.push_back(ReadEntry(r, (*snp)[i], path + ".snp[" + std::to_string(i) + "]"));
      }
    }
  }
  if (const json* tdx = Reader::Member(v, "tdx")) {
    if (!tdx->is_array()) {
      r.Problem(path + ".tdx", "expected an array, got " + Describe(*tdx));
      malformed = true;
    } else {
      any_entry = any_entry || !tdx->empty();
      for (size_t i = 0; i < tdx->size(); ++i) {
        const json& entry = (*tdx)[i];
        if (!entry.is_object()) {
          r.Problem(path + ".tdx[" + std::to_string(i) + "]", "expected an object, got " + Describe(entry));
          continue;
        }
        // Not validated here: TDX validation is not implemented yet.
        out.tdx.push_back(entry.dump(-1, ' ', false, json::error_handler_t::replace));
      }
    }
  }
  if (!any_entry && !malformed) r.Problem(path, "no reference values (snp and tdx are both empty or missing)");
  return out;
}

std::string JoinLines(const ParseProblems& problems) {
  std::string out;
  for (const std::string& p : problems) {
    if (!out.empty()) out += '\n';
    out += p;
  }
  return out;
}

Result<ReferenceValues> FromJson(const json& v) {
  ParseProblems problems;
  ReferenceValues out;
  {
    Reader r(problems);
    if (v.is_array()) {
      if (v.empty()) r.Problem("ReferenceValues.snp", "no reference values: the array is empty");
      for (size_t i = 0; i < v.size(); ++i) {
        out.snp.push_back(ReadEntry(r, v[i], "ReferenceValues.snp[" + std::to_string(i) + "]"));
      }
    } else if (!v.is_object()) {
      r.Problem("ReferenceValues", "expected an object or an array, got " + Describe(v));
    } else if (v.contains("ReferenceValues")) {
      out = ReadObject(r, v["ReferenceValues"], "ReferenceValues");
    } else if (v.empty() || v.contains("snp") || v.contains("tdx")) {
      out = ReadObject(r, v, "ReferenceValues");
    } else {
      out.snp.push_back(ReadEntry(r, v, "ReferenceValues.snp[0]"));
    }
  }
  if (!problems.empty()) return Fail(ErrorCode::kParse, JoinLines(problems));
  return out;
}

// Thrown from the parser callback to stop at the depth limit.
struct TooDeep {};

}  // namespace

Result<ReferenceValues> ParseReferenceValues(std::string_view json_text) {
  if (json_text.size() > kMaxReferenceValuesJsonSize) {
    return Fail(ErrorCode::kParse, "ReferenceValues: JSON is " + std::to_string(json_text.size()) +
                                       " bytes, more than the limit of " + std::to_string(kMaxReferenceValuesJsonSize));
  }
  // nlohmann keeps the last of duplicate keys silently; a verifier must not
  // read a different value than another tool reading the same manifest.
  ParseProblems duplicates;
  std::vector<std::set<std::string>> open_objects;
  const json::parser_callback_t callback = [&](int depth, json::parse_event_t event, json& parsed) {
    if (depth > kMaxReferenceValuesJsonDepth) throw TooDeep{};
    switch (event) {
      case json::parse_event_t::object_start: open_objects.emplace_back(); break;
      case json::parse_event_t::object_end:
        if (!open_objects.empty()) open_objects.pop_back();
        break;
      case json::parse_event_t::key:
        if (!open_objects.empty() && !open_objects.back().insert(parsed.get<std::string>()).second &&
            duplicates.size() < kMaxReportedParseProblems) {
          duplicates.push_back("ReferenceValues: duplicate key \"" + PrintableExcerpt(parsed.get<std::string>()) +
                               "\"");
        }
        break;
      default: break;
    }
    return true;
  };
  try {
    const json value = json::parse(json_text.begin(), json_text.end(), callback);
    auto result = FromJson(value);
    if (duplicates.empty()) return result;
    if (!result) duplicates.push_back(result.error().message);
    return Fail(ErrorCode::kParse, JoinLines(duplicates));
  } catch (const TooDeep&) {
    return Fail(ErrorCode::kParse, "ReferenceValues: JSON nesting deeper than " +
                                       std::to_string(kMaxReferenceValuesJsonDepth) + " levels");
  } catch (const json::parse_error& e) {
    return Fail(ErrorCode::kParse, std::string("ReferenceValues: invalid JSON: ") + e.what());
  } catch (const std::exception& e) {
    return Fail(ErrorCode::kParse, std::string("ReferenceValues: ") + e.what());
  }
}

Result<ReferenceValues> ReferenceValuesFromJson(const json& value) {
  try {
    return FromJson(value);
  } catch (const std::exception& e) {
    return Fail(ErrorCode::kParse, std::string("ReferenceValues: ") + e.what());
  }
}

ReferenceValues ReadReferenceValues(const json& value, const std::string& path, ParseProblems& problems) {
  try {
    Reader r(problems);
    return ReadObject(r, value, path);
  } catch (const std::exception& e) {
    problems.push_back(path + ": " + e.what());
    return {};
  }
}

SnpReferenceValues ReadSnpReferenceValues(const json& entry, const std::string& path, ParseProblems& problems) {
  try {
    Reader r(problems);
    return ReadEntry(r, entry, path);
  } catch (const std::exception& e) {
    problems.push_back(path + ": " + e.what());
    return {};
  }
}

json SnpReferenceValuesToJson(const SnpReferenceValues& rv) {
  json j = json::object();
  if (!rv.platform.empty()) j["Platform"] = rv.platform;
  j["ProductName"] = std::string(ProductName(rv.product));
  j["TrustedMeasurement"] = HexEncode(rv.trusted_measurement);
  const TcbParts& tcb = rv.minimum_tcb;
  j["MinimumTCB"] = {{"BootloaderVersion", tcb.bootloader},
                     {"TEEVersion", tcb.tee},
                     {"SNPVersion", tcb.snp},
                     {"MicrocodeVersion", tcb.microcode}};
  if (rv.product == Product::kTurin) j["MinimumTCB"]["FMCVersion"] = tcb.fmc;
  const GuestPolicy& p = rv.guest_policy;
  j["GuestPolicy"] = {{"ABIMinor", p.abi_minor},
                      {"ABIMajor", p.abi_major},
                      {"SMT", p.smt},
                      {"MigrateMA", p.migrate_ma},
                      {"Debug", p.debug},
                      {"SingleSocket", p.single_socket},
                      {"CXLAllowed", p.cxl_allowed},
                      {"MemAES256XTS", p.mem_aes_256_xts},
                      {"RAPLDis", p.rapl_dis},
                      {"CipherTextHidingDRAM", p.ciphertext_hiding_dram},
                      {"PageSwapDisable", p.page_swap_disable}};
  const PlatformInfo& i = rv.platform_info;
  j["PlatformInfo"] = {{"SMTEnabled", i.smt_enabled},
                       {"TSMEEnabled", i.tsme_enabled},
                       {"ECCEnabled", i.ecc_enabled},
                       {"RAPLDisabled", i.rapl_disabled},
                       {"CiphertextHidingDRAMEnabled", i.ciphertext_hiding_dram_enabled},
                       {"AliasCheckComplete", i.alias_check_complete},
                       {"TIOEnabled", i.tio_enabled}};
  j["MinimumMitigationVector"] = rv.minimum_mitigation_vector;
  j["AllowedChipIDs"] = json::array();
  for (const auto& id : rv.allowed_chip_ids) j["AllowedChipIDs"].push_back(HexEncode(id));
  if (rv.trusted_host_data) j["TrustedHostData"] = HexEncode(*rv.trusted_host_data);
  if (!rv.trusted_id_key_digests.empty()) {
    j["TrustedIDKeyDigests"] = json::array();
    for (const auto& d : rv.trusted_id_key_digests) j["TrustedIDKeyDigests"].push_back(HexEncode(d));
  }
  if (rv.minimum_report_version != 0) j["MinimumReportVersion"] = rv.minimum_report_version;
  if (rv.required_vmpl != 0) j["RequiredVMPL"] = rv.required_vmpl;
  if (!rv.permit_provisional_firmware) j["PermitProvisionalFirmware"] = false;
  if (rv.allow_missing_revocation_check) j["AllowMissingRevocationCheck"] = true;
  return j;
}

}  // namespace contrast::attest::snp
