#include "policy/rego/builtins.h"

#include "policy/rego/builtins_values_support.h"

#include <algorithm>

namespace contrast::policy::rego {

const BuiltinRegistry& BuiltinRegistry::Default() {
  static const BuiltinRegistry* const registry = [] {
    auto* built = new BuiltinRegistry();
    RegisterStringBuiltins(*built);
    RegisterRegexBuiltins(*built);
    RegisterEncodingBuiltins(*built);
    RegisterCollectionBuiltins(*built);
    RegisterNumberBuiltins(*built);
    RegisterTypeBuiltins(*built);
    RegisterFormatBuiltins(*built);
    RegisterTemplateBuiltins(*built);
    // Policies derive patterns and paths from their own constants with
    // chains of these (the Kata policies' replace chains): pure functions of
    // their operands, each costing far more than a lookup.
    for (const char* name : {"replace", "split", "trim", "trim_left", "trim_right", "trim_prefix", "trim_suffix",
                             "trim_space", "to_number", "lower", "upper", "substring", "format_int"}) {
      built->builtins_.at(name).memoize = true;
    }
    return built;
  }();
  return *registry;
}

void BuiltinRegistry::Add(Builtin builtin) {
  std::string name = builtin.name;
  builtins_.insert_or_assign(std::move(name), std::move(builtin));
}

const Builtin* BuiltinRegistry::Find(std::string_view name) const {
  auto it = builtins_.find(std::string(name));
  return it == builtins_.end() ? nullptr : &it->second;
}

std::vector<std::string> BuiltinRegistry::Names() const {
  std::vector<std::string> names;
  names.reserve(builtins_.size());
  for (const auto& [name, builtin] : builtins_) names.push_back(name);
  std::sort(names.begin(), names.end());
  return names;
}

Error OperandTypeError(std::string_view builtin, int operand, std::string_view expected, const Value& actual) {
  return Error{ErrorCode::kInvalidArgument, std::string(builtin) + ": operand " + std::to_string(operand) +
                                                " must be " + std::string(expected) + " but got " +
                                                std::string(KindName(actual.kind()))};
}

}  // namespace contrast::policy::rego
