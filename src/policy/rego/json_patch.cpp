// JSON-Patch (RFC 6902) over immutable Values, for the agent's policy state.
#include <optional>
#include <string>
#include <vector>

#include "policy/rego/agent.h"

namespace contrast::policy::rego {
namespace {

Result<std::vector<std::string>> ParsePointer(std::string_view pointer) {
  std::vector<std::string> tokens;
  if (pointer.empty()) return tokens;
  if (pointer[0] != '/') {
    return Fail(ErrorCode::kInvalidArgument, "JSON pointer \"" + std::string(pointer) + "\" does not start with '/'");
  }
  std::string token;
  for (size_t i = 1; i <= pointer.size(); ++i) {
    if (i == pointer.size() || pointer[i] == '/') {
      tokens.push_back(std::move(token));
      token.clear();
      continue;
    }
    if (pointer[i] != '~') {
      token += pointer[i];
      continue;
    }
    if (i + 1 < pointer.size() && (pointer[i + 1] == '0' || pointer[i + 1] == '1')) {
      token += pointer[i + 1] == '0' ? '~' : '/';
      ++i;
      continue;
    }
    return Fail(ErrorCode::kInvalidArgument, "JSON pointer \"" + std::string(pointer) + "\" has an invalid '~' escape");
  }
  return tokens;
}

// An array index token: "0" or digits without a leading zero.
std::optional<size_t> ParseIndex(const std::string& token) {
  if (token.empty() || token.size() > 9 || (token.size() > 1 && token[0] == '0')) return std::nullopt;
  size_t index = 0;
  for (const char c : token) {
    if (c < '0' || c > '9') return std::nullopt;
    index = index * 10 + static_cast<size_t>(c - '0');
  }
  return index;
}

enum class PatchOp { kAdd, kRemove, kReplace };

Result<Value> ApplyAt(const Value& doc, const std::vector<std::string>& tokens, size_t depth, PatchOp op,
                      const Value& value, std::string_view path) {
  auto not_found = [&] {
    return Fail(ErrorCode::kNotFound, "JSON-Patch path \"" + std::string(path) + "\" does not exist");
  };
  if (depth == tokens.size()) {
    if (op == PatchOp::kRemove) {
      return Fail(ErrorCode::kInvalidArgument, "JSON-Patch cannot remove the whole document");
    }
    return value;
  }
  const std::string& token = tokens[depth];
  const bool last = depth + 1 == tokens.size();
  if (doc.is_object()) {
    Value::Object object = doc.as_object();
    const Value key = Value::String(token);
    auto it = object.find(key);
    if (last) {
      if (op == PatchOp::kAdd) {
        object.insert_or_assign(key, value);
      } else if (it == object.end()) {
        return not_found();
      } else if (op == PatchOp::kReplace) {
        it->second = value;
      } else {
        object.erase(it);
      }
      return Value::FromObject(std::move(object));
    }
    if (it == object.end()) return not_found();
    auto child = ApplyAt(it->second, tokens, depth + 1, op, value, path);
    if (!child) return child;
    it->second = std::move(*child);
    return Value::FromObject(std::move(object));
  }
  if (doc.is_array()) {
    Value::Array array = doc.as_array();
    if (last && op == PatchOp::kAdd && token == "-") {
      array.push_back(value);
      return Value::FromArray(std::move(array));
    }
    const std::optional<size_t> index = ParseIndex(token);
    if (!index) return not_found();
    if (last && op == PatchOp::kAdd) {
      if (*index > array.size()) return not_found();
      array.insert(array.begin() + static_cast<std::ptrdiff_t>(*index), value);
      return Value::FromArray(std::move(array));
    }
    if (*index >= array.size()) return not_found();
    if (last) {
      if (op == PatchOp::kReplace) {
        array[*index] = value;
      } else {
        array.erase(array.begin() + static_cast<std::ptrdiff_t>(*index));
      }
      return Value::FromArray(std::move(array));
    }
    auto child = ApplyAt(array[*index], tokens, depth + 1, op, value, path);
    if (!child) return child;
    array[*index] = std::move(*child);
    return Value::FromArray(std::move(array));
  }
  return not_found();
}

Result<Value> ApplyOne(const Value& document, const Value& op) {
  if (!op.is_object()) return Fail(ErrorCode::kInvalidArgument, "JSON-Patch operation is not an object");
  const Value* name = op.Get("op");
  const Value* path = op.Get("path");
  if (name == nullptr || !name->is_string()) {
    return Fail(ErrorCode::kInvalidArgument, "JSON-Patch operation without a string \"op\"");
  }
  if (path == nullptr || !path->is_string()) {
    return Fail(ErrorCode::kInvalidArgument, "JSON-Patch operation without a string \"path\"");
  }
  PatchOp kind;
  if (name->as_string() == "add") {
    kind = PatchOp::kAdd;
  } else if (name->as_string() == "remove") {
    kind = PatchOp::kRemove;
  } else if (name->as_string() == "replace") {
    kind = PatchOp::kReplace;
  } else {
    return Fail(ErrorCode::kUnsupported, "JSON-Patch operation \"" + name->as_string() + "\" is not supported");
  }
  const Value* value = op.Get("value");
  if (kind != PatchOp::kRemove && value == nullptr) {
    return Fail(ErrorCode::kInvalidArgument, "JSON-Patch \"" + name->as_string() + "\" without a \"value\"");
  }
  auto tokens = ParsePointer(path->as_string());
  if (!tokens) return Fail(tokens.error());
  return ApplyAt(document, *tokens, 0, kind, value != nullptr ? *value : Value::Null(), path->as_string());
}

}  // namespace

Result<Value> ApplyJsonPatch(const Value& document, const Value& ops) {
  if (!ops.is_array()) return Fail(ErrorCode::kInvalidArgument, "JSON-Patch is not an array of operations");
  Value result = document;
  for (const Value& op : ops.as_array()) {
    auto next = ApplyOne(result, op);
    if (!next) return next;
    result = std::move(*next);
  }
  return result;
}

}  // namespace contrast::policy::rego
