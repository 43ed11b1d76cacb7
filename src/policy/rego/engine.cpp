#include "policy/rego/engine.h"

#include <mutex>

#include "policy/rego/ast.h"
#include "policy/rego/builtins.h"
#include "policy/rego/compiler.h"
#include "policy/rego/eval.h"

namespace contrast::policy::rego {

struct Engine::Impl {
  std::vector<std::shared_ptr<const ast::Module>> modules;
  Value data = Value::FromObject({});
  // Compiled lazily by the first evaluation when Compile() was not called;
  // the mutex makes that safe for concurrent const callers.
  mutable std::mutex mutex;
  mutable std::shared_ptr<const ir::Policy> compiled;

  Impl() = default;
  Impl(const Impl& other) : modules(other.modules), data(other.data) {
    std::lock_guard lock(other.mutex);
    compiled = other.compiled;
  }

  Result<std::shared_ptr<const ir::Policy>> Compiled() const {
    std::lock_guard lock(mutex);
    if (!compiled) {
      auto result = ir::CompilePolicy(modules, BuiltinRegistry::Default());
      if (!result) return Fail(result.error());
      compiled = *result;
    }
    return compiled;
  }
};

namespace {

// Objects merge key by key; anything else at the same path is a conflict.
Result<Value> Merge(const Value& into, const Value& from, const std::string& path) {
  if (!into.is_object() || !from.is_object()) {
    return Fail(ErrorCode::kInvalidArgument, "data conflict at " + (path.empty() ? std::string("data") : path));
  }
  Value::Object merged = into.as_object();
  for (const auto& [key, value] : from.as_object()) {
    auto it = merged.find(key);
    if (it == merged.end()) {
      merged.emplace(key, value);
      continue;
    }
    auto sub = Merge(it->second, value, path + "/" + (key.is_string() ? key.as_string() : key.ToJson()));
    if (!sub) return sub;
    it->second = std::move(*sub);
  }
  return Value::FromObject(std::move(merged));
}

}  // namespace

Engine::Engine() : impl_(std::make_shared<Impl>()) {}
Engine::~Engine() = default;
Engine::Engine(Engine&&) noexcept = default;
Engine& Engine::operator=(Engine&&) noexcept = default;
Engine::Engine(const Engine& other) : impl_(std::make_shared<Impl>(*other.impl_)) {}
Engine& Engine::operator=(const Engine& other) {
  if (this != &other) impl_ = std::make_shared<Impl>(*other.impl_);
  return *this;
}

Status Engine::AddModule(std::string filename, std::string_view source, RegoVersion version) {
  auto module = ast::ParseModule(filename, source, version);
  if (!module) return Fail(module.error());
  impl_->modules.push_back(std::make_shared<const ast::Module>(std::move(*module)));
  std::lock_guard lock(impl_->mutex);
  impl_->compiled.reset();
  return {};
}

Status Engine::AddData(const Value& document) {
  if (!document.is_object()) return Fail(ErrorCode::kInvalidArgument, "data must be an object");
  auto merged = Merge(impl_->data, document, "");
  if (!merged) return Fail(merged.error());
  impl_->data = std::move(*merged);
  return {};
}

void Engine::SetData(Value document) { impl_->data = std::move(document); }

const Value& Engine::data() const { return impl_->data; }

Status Engine::Compile() {
  auto compiled = impl_->Compiled();
  if (!compiled) return Fail(compiled.error());
  return {};
}

Result<QueryResult> Engine::EvalQuery(std::string_view query, const EvalOptions& options) const {
  auto compiled = impl_->Compiled();
  if (!compiled) return Fail(compiled.error());
  auto body = ast::ParseQuery(query);
  if (!body) return Fail(body.error());
  auto compiled_query = ir::CompileQuery(**compiled, *body, BuiltinRegistry::Default());
  if (!compiled_query) return Fail(compiled_query.error());
  return EvaluateQuery(**compiled, **compiled_query, impl_->data, options);
}

Result<std::optional<Value>> Engine::EvalRule(std::string_view path, const EvalOptions& options,
                                              PrintLog* prints) const {
  auto compiled = impl_->Compiled();
  if (!compiled) return Fail(compiled.error());
  std::vector<Value> elements;
  size_t start = 0;
  bool first = true;
  while (start <= path.size()) {
    size_t dot = path.find('.', start);
    if (dot == std::string_view::npos) dot = path.size();
    std::string_view part = path.substr(start, dot - start);
    if (part.empty()) return Fail(ErrorCode::kInvalidArgument, "invalid rule path: " + std::string(path));
    if (first) {
      if (part != "data")
        return Fail(ErrorCode::kInvalidArgument, "rule path must start with data: " + std::string(path));
      first = false;
    } else {
      elements.push_back(Value::String(std::string(part)));
    }
    start = dot + 1;
  }
  return EvaluateDocument(**compiled, elements, impl_->data, options, prints);
}

}  // namespace contrast::policy::rego
