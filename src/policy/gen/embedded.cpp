// The rules and settings compiled into the program (see CMakeLists.txt).
#include <string_view>

#include "policy/gen/generator.h"
#include "policy/gen/settings_internal.h"

namespace contrast::policy::gen {

std::string_view DefaultRules() {
  static constexpr std::string_view kRules =
#include "rules.inc"
      ;
  return kRules;
}

std::string_view DefaultSettingsJson() {
  static constexpr std::string_view kSettings =
#include "settings.inc"
      ;
  return kSettings;
}

}  // namespace contrast::policy::gen
