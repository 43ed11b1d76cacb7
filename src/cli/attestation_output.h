// What `contrast attestation verify` prints, for SEV-SNP reports and TDX
// quotes alike: the list of checks, the validation against reference values
// and the verdict, as text or JSON. Internal to src/cli.
#pragma once

#include <algorithm>
#include <cstddef>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace contrast::cli {

// One line of the check list.
struct Check {
  bool ok;
  std::string code;  // ErrorCodeName for failures
  std::string text;
};

inline size_t FailedChecks(const std::vector<Check>& checks) {
  return static_cast<size_t>(std::count_if(checks.begin(), checks.end(), [](const Check& c) { return !c.ok; }));
}

// Key/value lines, nested objects indented.
void PrintFields(std::ostream& out, const nlohmann::ordered_json& j, int indent);

inline nlohmann::ordered_json ChecksJson(const std::vector<Check>& checks) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const Check& c : checks) out.push_back({{"ok", c.ok}, {"code", c.code}, {"message", c.text}});
  return out;
}

inline void PrintChecks(std::ostream& out, const std::string& title, const std::vector<Check>& checks) {
  out << title << "\n";
  for (const Check& c : checks) {
    out << (c.ok ? "  ok    " : "  FAIL  ") << (c.ok ? "" : c.code + ": ") << c.text << "\n";
  }
}

// `Result` is snp::ValidationResult or tdx::TdxValidationResult: both list
// mismatches with code, field, expected, actual and Message().
template <typename Result>
nlohmann::ordered_json ValidationJson(const Result& validation, bool against_reference_values) {
  nlohmann::ordered_json mismatches = nlohmann::ordered_json::array();
  for (const auto& m : validation.mismatches) {
    mismatches.push_back({{"code", ErrorCodeName(m.code)},
                          {"field", m.field},
                          {"expected", m.expected},
                          {"actual", m.actual},
                          {"message", m.Message()}});
  }
  return {{"against", against_reference_values ? "reference values" : "baseline rules"}, {"mismatches", mismatches}};
}

template <typename Result>
void PrintValidation(std::ostream& out, const Result& validation, bool against_reference_values) {
  out << "\nValidation (against " << (against_reference_values ? "reference values" : "baseline rules") << ")\n";
  if (validation.ok()) {
    out << "  ok    all checks passed";
    if (validation.matched_entry) out << " (entry " << *validation.matched_entry << ")";
    out << "\n";
  }
  for (const auto& m : validation.mismatches) out << "  FAIL  " << ErrorCodeName(m.code) << ": " << m.Message() << "\n";
}

inline void PrintVerdict(std::ostream& out, bool valid, size_t failures, bool insecure) {
  out << "\nVerdict: " << (valid ? "VALID" : "INVALID");
  if (!valid) out << " (" << failures << (failures == 1 ? " check" : " checks") << " failed)";
  if (valid && insecure) out << " (emulated platform: NOT a security guarantee)";
  out << "\n";
}

}  // namespace contrast::cli
