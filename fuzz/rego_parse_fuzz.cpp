// Fuzz target: the Rego lexer and parser (modules in v0 and v1, queries).
// Whatever parses must also render through ToString without trouble.
#include <cstdint>
#include <string_view>

#include "policy/rego/ast.h"

namespace {

using namespace contrast::policy::rego;

void Render(const ast::Body& body);

void Render(const ast::TermPtr& term) {
  if (term) (void)ast::ToString(*term);
}

void Render(const ast::Body& body) {
  for (const auto& expr : body) {
    Render(expr->term);
    Render(expr->key);
    Render(expr->value);
    Render(expr->domain);
    for (const auto& with : expr->with) {
      Render(with.target);
      Render(with.value);
    }
  }
}

void RenderModule(const ast::Module& module) {
  for (const auto& rule : module.rules) {
    for (const ast::Rule* r = rule.get(); r != nullptr; r = r->else_rule.get()) {
      for (const auto& part : r->path) Render(part);
      for (const auto& arg : r->args) Render(arg);
      Render(r->key);
      Render(r->value);
      Render(r->body);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // Small limits keep each run fast; they are enforced, not just advisory.
  ast::ParseLimits limits;
  limits.max_nesting = 128;
  for (RegoVersion version : {RegoVersion::kV0, RegoVersion::kV1}) {
    if (auto module = ast::ParseModule("fuzz.rego", text, version, limits)) RenderModule(*module);
  }
  if (auto body = ast::ParseQuery(text, limits)) Render(*body);
  return 0;
}
