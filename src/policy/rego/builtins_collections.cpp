// Builtins over collections: count, object.*, json.filter/remove/patch,
// array.*, set algebra, sort and walk.
#include <algorithm>
#include <map>
#include <optional>

#include "policy/rego/builtins.h"
#include "policy/rego/builtins_values_support.h"

namespace contrast::policy::rego {
namespace {

using support::AddBuiltin;
using support::BuiltinError;
using support::OperandError;
using support::TypeError;
using support::Undefined;

#define RETURN_IF_ERROR(expr)                            \
  do {                                                   \
    if (auto status_ = (expr); !status_) {               \
      return tl::unexpected(std::move(status_).error()); \
    }                                                    \
  } while (false)

Status ExpectKind(std::string_view name, std::span<const Value> ops, size_t index, Kind kind) {
  if (ops[index].kind() == kind) return {};
  return TypeError(name, static_cast<int>(index) + 1, KindName(kind), ops[index]);
}

// Number of Unicode code points, counting each invalid byte as one (Go's []rune).
size_t RuneCount(std::string_view s) {
  size_t count = 0;
  for (size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    size_t width = 1;
    if (b >= 0xC2 && b <= 0xDF) {
      width = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
      width = 3;
    } else if (b >= 0xF0 && b <= 0xF4) {
      width = 4;
    }
    bool valid = i + width <= s.size();
    for (size_t k = 1; valid && k < width; ++k) valid = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    if (valid && width == 3) {
      const auto b1 = static_cast<unsigned char>(s[i + 1]);
      valid = !(b == 0xE0 && b1 < 0xA0) && !(b == 0xED && b1 >= 0xA0);
    } else if (valid && width == 4) {
      const auto b1 = static_cast<unsigned char>(s[i + 1]);
      valid = !(b == 0xF0 && b1 < 0x90) && !(b == 0xF4 && b1 >= 0x90);
    }
    i += valid ? width : 1;
    ++count;
  }
  return count;
}

Result<Value> Count(std::span<const Value> ops) {
  const Value& v = ops[0];
  switch (v.kind()) {
    case Kind::kArray: return Value::Int(static_cast<int64_t>(v.as_array().size()));
    case Kind::kObject: return Value::Int(static_cast<int64_t>(v.as_object().size()));
    case Kind::kSet: return Value::Int(static_cast<int64_t>(v.as_set().size()));
    case Kind::kString: return Value::Int(static_cast<int64_t>(RuneCount(v.as_string())));
    default: return TypeError("count", 1, "one of {array, object, set, string}", v);
  }
}

// ---------------------------------------------------------------------------
// object.*
// ---------------------------------------------------------------------------

Result<Value> ObjectGet(std::span<const Value> ops) {
  RETURN_IF_ERROR(ExpectKind("object.get", ops, 0, Kind::kObject));
  if (!ops[1].is_array()) {
    const Value* found = ops[0].Find(ops[1]);
    return found != nullptr ? *found : ops[2];
  }
  const Value* current = &ops[0];
  for (const Value& segment : ops[1].as_array()) {
    current = current->Find(segment);
    if (current == nullptr) return ops[2];
  }
  return *current;
}

Result<Value> ObjectKeys(std::span<const Value> ops) {
  RETURN_IF_ERROR(ExpectKind("object.keys", ops, 0, Kind::kObject));
  Value::Set keys;
  for (const auto& [key, value] : ops[0].as_object()) keys.insert(keys.end(), key);
  return Value::FromSet(std::move(keys));
}

// The keys operand of object.remove and object.filter: an array, set or object (its keys).
Result<Value::Set> KeysOperand(std::string_view name, const Value& v) {
  Value::Set keys;
  switch (v.kind()) {
    case Kind::kArray: keys.insert(v.as_array().begin(), v.as_array().end()); break;
    case Kind::kSet: keys = v.as_set(); break;
    case Kind::kObject:
      for (const auto& [key, value] : v.as_object()) keys.insert(keys.end(), key);
      break;
    default: return TypeError(name, 2, "one of {object, set, array}", v);
  }
  return keys;
}

void AddKeyFilter(BuiltinRegistry& registry, std::string name, bool keep_listed) {
  AddBuiltin(registry, name, 2, [name, keep_listed](std::span<const Value> ops) -> Result<Value> {
    RETURN_IF_ERROR(ExpectKind(name, ops, 0, Kind::kObject));
    auto keys = KeysOperand(name, ops[1]);
    if (!keys) return tl::unexpected(keys.error());
    Value::Object result;
    for (const auto& [key, value] : ops[0].as_object()) {
      if ((keys->count(key) != 0) == keep_listed) result.emplace_hint(result.end(), key, value);
    }
    return Value::FromObject(std::move(result));
  });
}

// b's members override a's; where both hold objects they merge recursively.
Value MergeObjects(const Value& a, const Value& b) {
  Value::Object merged = a.as_object();
  for (const auto& [key, value] : b.as_object()) {
    auto it = merged.find(key);
    if (it != merged.end() && it->second.is_object() && value.is_object()) {
      it->second = MergeObjects(it->second, value);
    } else {
      merged.insert_or_assign(key, value);
    }
  }
  return Value::FromObject(std::move(merged));
}

Result<Value> ObjectUnion(std::span<const Value> ops) {
  RETURN_IF_ERROR(ExpectKind("object.union", ops, 0, Kind::kObject));
  RETURN_IF_ERROR(ExpectKind("object.union", ops, 1, Kind::kObject));
  if (ops[0] == ops[1]) return ops[0];
  return MergeObjects(ops[0], ops[1]);
}

Result<Value> ObjectUnionN(std::span<const Value> ops) {
  RETURN_IF_ERROR(ExpectKind("object.union_n", ops, 0, Kind::kArray));
  const Value::Array& objects = ops[0].as_array();
  for (const Value& item : objects) {
    if (!item.is_object()) return support::ElementError("object.union_n", 1, ops[0], "object", item);
  }
  Value result = Value::FromObject({});
  for (const Value& item : objects) result = MergeObjects(result, item);
  return result;
}

bool ArraySubset(const Value::Array& super, const Value::Array& sub) {
  if (sub.size() > super.size()) return false;
  return std::search(super.begin(), super.end(), sub.begin(), sub.end()) != super.end() || sub.empty();
}

bool SetSubset(const Value::Set& super, const Value::Set& sub) {
  return std::all_of(sub.begin(), sub.end(), [&](const Value& v) { return super.count(v) != 0; });
}

bool ObjectSubset(const Value::Object& super, const Value::Object& sub) {
  for (const auto& [key, sub_value] : sub) {
    auto it = super.find(key);
    if (it == super.end()) return false;
    const Value& super_value = it->second;
    if (super_value == sub_value) continue;
    if (super_value.is_object() && sub_value.is_object()) {
      if (!ObjectSubset(super_value.as_object(), sub_value.as_object())) return false;
    } else if (super_value.is_set() && sub_value.is_set()) {
      if (!SetSubset(super_value.as_set(), sub_value.as_set())) return false;
    } else if (super_value.is_array() && sub_value.is_array()) {
      if (!ArraySubset(super_value.as_array(), sub_value.as_array())) return false;
    } else {
      return false;
    }
  }
  return true;
}

Result<Value> ObjectSubsetBuiltin(std::span<const Value> ops) {
  const Value& super = ops[0];
  const Value& sub = ops[1];
  if (super.is_object() && sub.is_object()) return Value::Bool(ObjectSubset(super.as_object(), sub.as_object()));
  if (super.is_set() && sub.is_set()) return Value::Bool(SetSubset(super.as_set(), sub.as_set()));
  if (super.is_array() && sub.is_array()) return Value::Bool(ArraySubset(super.as_array(), sub.as_array()));
  if (super.is_array() && sub.is_set()) {
    // OPA counts matching array elements (duplicates included) until the set's size is reached.
    size_t unmatched = sub.as_set().size();
    for (const Value& item : super.as_array()) {
      if (sub.as_set().count(item) != 0) --unmatched;
      if (unmatched == 0) return Value::Bool(true);
    }
    return Value::Bool(false);
  }
  return Fail(ErrorCode::kInvalidArgument,
              "object.subset: both arguments object.subset must be of the same type or array and set");
}

// ---------------------------------------------------------------------------
// json.filter / json.remove
// ---------------------------------------------------------------------------

using Path = std::vector<Value>;

// A JSON path: "a/b/c" (with ~0 and ~1 escapes) or an array of segments.
Result<Path> ParsePath(std::string_view name, int operand, const Value& v) {
  Path path;
  if (v.is_string()) {
    std::string_view text = v.as_string();
    if (text.empty()) return path;
    while (!text.empty() && text.front() == '/') text.remove_prefix(1);
    size_t start = 0;
    for (;;) {
      const size_t slash = text.find('/', start);
      std::string part(text.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
      std::string unescaped;
      for (size_t i = 0; i < part.size(); ++i) {
        if (part[i] == '~' && i + 1 < part.size() && (part[i + 1] == '0' || part[i + 1] == '1')) {
          unescaped.push_back(part[i + 1] == '1' ? '/' : '~');
          ++i;
        } else {
          unescaped.push_back(part[i]);
        }
      }
      path.push_back(Value::String(std::move(unescaped)));
      if (slash == std::string_view::npos) break;
      start = slash + 1;
    }
    return path;
  }
  if (v.is_array()) return v.as_array();
  return OperandError(name, operand,
                      "must be one of {set, array} containing string paths or array of path segments but got " +
                          std::string(KindName(v.kind())));
}

// The paths of json.filter and json.remove as a tree; a leaf selects a whole subtree.
struct PathTree {
  bool leaf = false;
  std::map<Value, PathTree> children;

  void Insert(const Path& path) {
    if (path.empty()) return;
    PathTree* node = this;
    for (size_t i = 0; i + 1 < path.size(); ++i) {
      node = &node->children[path[i]];
      if (node->leaf) return;  // a shorter path already covers this one
    }
    PathTree& last = node->children[path.back()];
    last.leaf = true;
    last.children.clear();
  }

  const PathTree* Child(const Value& key) const {
    auto it = children.find(key);
    return it == children.end() ? nullptr : &it->second;
  }
};

Result<PathTree> PathsOperand(std::string_view name, const Value& v) {
  PathTree tree;
  auto add = [&](const Value& item) -> Status {
    auto path = ParsePath(name, 2, item);
    if (!path) return tl::unexpected(path.error());
    tree.Insert(*path);
    return {};
  };
  if (v.is_array()) {
    for (const Value& item : v.as_array()) RETURN_IF_ERROR(add(item));
  } else if (v.is_set()) {
    for (const Value& item : v.as_set()) RETURN_IF_ERROR(add(item));
  } else {
    return TypeError(name, 2, "one of {set, array}", v);
  }
  return tree;
}

// Array elements are addressed by their index as a string ("0"), as OPA does.
Value IndexKey(size_t i) { return Value::String(std::to_string(i)); }

Value FilterValue(const Value& v, const PathTree& tree) {
  if (tree.leaf) return v;
  switch (v.kind()) {
    case Kind::kArray: {
      Value::Array kept;
      const Value::Array& items = v.as_array();
      for (size_t i = 0; i < items.size(); ++i) {
        if (const PathTree* child = tree.Child(IndexKey(i))) kept.push_back(FilterValue(items[i], *child));
      }
      return Value::FromArray(std::move(kept));
    }
    case Kind::kSet: {
      Value::Set kept;
      for (const Value& item : v.as_set()) {
        if (const PathTree* child = tree.Child(item)) kept.insert(FilterValue(item, *child));
      }
      return Value::FromSet(std::move(kept));
    }
    case Kind::kObject: {
      Value::Object kept;
      for (const auto& [key, value] : v.as_object()) {
        if (const PathTree* child = tree.Child(key)) kept.emplace_hint(kept.end(), key, FilterValue(value, *child));
      }
      return Value::FromObject(std::move(kept));
    }
    default: return v;
  }
}

// nullopt when the whole value is removed.
std::optional<Value> RemovePaths(const Value& v, const PathTree& tree) {
  if (tree.leaf) return std::nullopt;
  switch (v.kind()) {
    case Kind::kArray: {
      Value::Array kept;
      const Value::Array& items = v.as_array();
      for (size_t i = 0; i < items.size(); ++i) {
        const PathTree* child = tree.Child(IndexKey(i));
        if (child == nullptr) {
          kept.push_back(items[i]);
        } else if (auto rest = RemovePaths(items[i], *child)) {
          kept.push_back(std::move(*rest));
        }
      }
      return Value::FromArray(std::move(kept));
    }
    case Kind::kSet: {
      Value::Set kept;
      for (const Value& item : v.as_set()) {
        const PathTree* child = tree.Child(item);
        if (child == nullptr) {
          kept.insert(item);
        } else if (auto rest = RemovePaths(item, *child)) {
          kept.insert(std::move(*rest));
        }
      }
      return Value::FromSet(std::move(kept));
    }
    case Kind::kObject: {
      Value::Object kept;
      for (const auto& [key, value] : v.as_object()) {
        const PathTree* child = tree.Child(key);
        if (child == nullptr) {
          kept.emplace_hint(kept.end(), key, value);
        } else if (auto rest = RemovePaths(value, *child)) {
          kept.emplace_hint(kept.end(), key, std::move(*rest));
        }
      }
      return Value::FromObject(std::move(kept));
    }
    default: return v;
  }
}

Result<Value> JsonFilter(std::span<const Value> ops) {
  RETURN_IF_ERROR(ExpectKind("json.filter", ops, 0, Kind::kObject));
  auto tree = PathsOperand("json.filter", ops[1]);
  if (!tree) return tl::unexpected(tree.error());
  return FilterValue(ops[0], *tree);
}

Result<Value> JsonRemove(std::span<const Value> ops) {
  RETURN_IF_ERROR(ExpectKind("json.remove", ops, 0, Kind::kObject));
  auto tree = PathsOperand("json.remove", ops[1]);
  if (!tree) return tl::unexpected(tree.error());
  auto rest = RemovePaths(ops[0], *tree);
  if (!rest) return Undefined();
  return *rest;
}

// ---------------------------------------------------------------------------
// json.patch (RFC 6902 on values; any failure makes the call undefined, as in OPA)
// ---------------------------------------------------------------------------

// An array position from a path segment: an integer or a decimal string.
std::optional<size_t> ArrayIndex(const Value& segment) {
  if (segment.is_number()) {
    auto i = segment.as_number().ToInt64();
    if (!i || *i < 0 || !segment.as_number().is_integer()) return std::nullopt;
    return static_cast<size_t>(*i);
  }
  if (!segment.is_string()) return std::nullopt;
  const std::string& s = segment.as_string();
  if (s.empty() || s.size() > 18) return std::nullopt;
  size_t value = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<size_t>(c - '0');
  }
  return value;
}

const Value* Lookup(const Value& v, const Value& segment) {
  if (v.is_array()) {
    auto index = ArrayIndex(segment);
    if (!index || *index >= v.as_array().size()) return nullptr;
    return &v.as_array()[*index];
  }
  if (v.is_object() || v.is_set()) return v.Find(segment);
  return nullptr;
}

std::optional<Value> GetAt(const Value& doc, const Path& path) {
  const Value* current = &doc;
  for (const Value& segment : path) {
    current = Lookup(*current, segment);
    if (current == nullptr) return std::nullopt;
  }
  return *current;
}

enum class Edit { kInsert, kDelete };

// Rebuilds `v` with the edit applied at path[depth..]; nullopt when the path does not apply.
std::optional<Value> EditAt(const Value& v, const Path& path, size_t depth, Edit edit, const Value& value) {
  const Value& segment = path[depth];
  const bool last = depth + 1 == path.size();
  switch (v.kind()) {
    case Kind::kObject: {
      Value::Object members = v.as_object();
      auto it = members.find(segment);
      if (last) {
        if (edit == Edit::kInsert) {
          members.insert_or_assign(segment, value);
        } else {
          if (it == members.end()) return std::nullopt;
          members.erase(it);
        }
        return Value::FromObject(std::move(members));
      }
      if (it == members.end()) return std::nullopt;
      auto child = EditAt(it->second, path, depth + 1, edit, value);
      if (!child) return std::nullopt;
      it->second = std::move(*child);
      return Value::FromObject(std::move(members));
    }
    case Kind::kArray: {
      Value::Array items = v.as_array();
      if (last && edit == Edit::kInsert && segment.is_string() && segment.as_string() == "-") {
        items.push_back(value);
        return Value::FromArray(std::move(items));
      }
      auto index = ArrayIndex(segment);
      if (!index) return std::nullopt;
      if (last && edit == Edit::kInsert) {
        if (*index > items.size()) return std::nullopt;
        items.insert(items.begin() + static_cast<std::ptrdiff_t>(*index), value);
        return Value::FromArray(std::move(items));
      }
      if (*index >= items.size()) return std::nullopt;
      if (last) {
        items.erase(items.begin() + static_cast<std::ptrdiff_t>(*index));
        return Value::FromArray(std::move(items));
      }
      auto child = EditAt(items[*index], path, depth + 1, edit, value);
      if (!child) return std::nullopt;
      items[*index] = std::move(*child);
      return Value::FromArray(std::move(items));
    }
    case Kind::kSet: {
      Value::Set items = v.as_set();
      if (last && edit == Edit::kInsert) {
        items.insert(value);
        return Value::FromSet(std::move(items));
      }
      auto it = items.find(segment);
      if (it == items.end()) return std::nullopt;
      if (last) {
        items.erase(it);
        return Value::FromSet(std::move(items));
      }
      auto child = EditAt(*it, path, depth + 1, edit, value);
      if (!child) return std::nullopt;
      items.erase(it);
      items.insert(std::move(*child));
      return Value::FromSet(std::move(items));
    }
    default: return std::nullopt;
  }
}

std::optional<Value> InsertAt(const Value& doc, const Path& path, const Value& value) {
  if (path.empty()) return value;
  return EditAt(doc, path, 0, Edit::kInsert, value);
}

std::optional<Value> DeleteAt(const Value& doc, const Path& path) {
  if (path.empty()) return std::nullopt;
  return EditAt(doc, path, 0, Edit::kDelete, Value());
}

std::optional<Value> ApplyPatch(const Value& doc, const Value& operation) {
  if (!operation.is_object()) return std::nullopt;
  const Value* op = operation.Get("op");
  const Value* path_value = operation.Get("path");
  if (op == nullptr || !op->is_string() || path_value == nullptr) return std::nullopt;
  auto path = ParsePath("json.patch", 2, *path_value);
  if (!path) return std::nullopt;
  const std::string& name = op->as_string();
  const Value* value = operation.Get("value");
  if (name == "add" || name == "replace" || name == "test") {
    if (value == nullptr) return std::nullopt;
  }
  if (name == "add") return InsertAt(doc, *path, *value);
  if (name == "remove") return DeleteAt(doc, *path);
  if (name == "replace") {
    auto removed = DeleteAt(doc, *path);
    if (!removed) return std::nullopt;
    return InsertAt(*removed, *path, *value);
  }
  if (name == "test") {
    auto current = GetAt(doc, *path);
    if (!current || *current != *value) return std::nullopt;
    return doc;
  }
  if (name == "move" || name == "copy") {
    const Value* from_value = operation.Get("from");
    if (from_value == nullptr) return std::nullopt;
    auto from = ParsePath("json.patch", 2, *from_value);
    if (!from) return std::nullopt;
    auto chunk = GetAt(doc, *from);
    if (!chunk) return std::nullopt;
    Value base = doc;
    if (name == "move") {
      auto removed = DeleteAt(doc, *from);
      if (!removed) return std::nullopt;
      base = std::move(*removed);
    }
    return InsertAt(base, *path, *chunk);
  }
  return std::nullopt;
}

Result<Value> JsonPatch(std::span<const Value> ops) {
  RETURN_IF_ERROR(ExpectKind("json.patch", ops, 1, Kind::kArray));
  Value doc = ops[0];
  for (const Value& operation : ops[1].as_array()) {
    auto next = ApplyPatch(doc, operation);
    if (!next) return Undefined();
    doc = std::move(*next);
  }
  return doc;
}

// ---------------------------------------------------------------------------
// array.*, sets, sort, walk
// ---------------------------------------------------------------------------

Result<Value> ArrayConcat(std::span<const Value> ops) {
  RETURN_IF_ERROR(ExpectKind("array.concat", ops, 0, Kind::kArray));
  RETURN_IF_ERROR(ExpectKind("array.concat", ops, 1, Kind::kArray));
  Value::Array items = ops[0].as_array();
  items.insert(items.end(), ops[1].as_array().begin(), ops[1].as_array().end());
  return Value::FromArray(std::move(items));
}

Result<int64_t> IntOperand(std::string_view name, std::span<const Value> ops, size_t index) {
  const Value& v = ops[index];
  const int operand = static_cast<int>(index) + 1;
  if (!v.is_number()) return TypeError(name, operand, "number", v);
  auto i = v.as_number().ToInt64();
  if (!i || !v.as_number().is_integer()) {
    return OperandError(name, operand, "must be integer number but got floating-point number");
  }
  return *i;
}

Result<Value> ArraySlice(std::span<const Value> ops) {
  RETURN_IF_ERROR(ExpectKind("array.slice", ops, 0, Kind::kArray));
  auto start = IntOperand("array.slice", ops, 1);
  if (!start) return tl::unexpected(start.error());
  auto stop = IntOperand("array.slice", ops, 2);
  if (!stop) return tl::unexpected(stop.error());
  const Value::Array& items = ops[0].as_array();
  const auto length = static_cast<int64_t>(items.size());
  const int64_t end = std::clamp<int64_t>(*stop, 0, length);
  const int64_t begin = std::clamp<int64_t>(*start, 0, end);
  return Value::FromArray(Value::Array(items.begin() + begin, items.begin() + end));
}

Result<Value> ArrayReverse(std::span<const Value> ops) {
  RETURN_IF_ERROR(ExpectKind("array.reverse", ops, 0, Kind::kArray));
  const Value::Array& items = ops[0].as_array();
  return Value::FromArray(Value::Array(items.rbegin(), items.rend()));
}

void AddSetOperator(BuiltinRegistry& registry, std::string name, bool intersect) {
  AddBuiltin(registry, name, 2, [name, intersect](std::span<const Value> ops) -> Result<Value> {
    RETURN_IF_ERROR(ExpectKind(name, ops, 0, Kind::kSet));
    RETURN_IF_ERROR(ExpectKind(name, ops, 1, Kind::kSet));
    const Value::Set& a = ops[0].as_set();
    const Value::Set& b = ops[1].as_set();
    Value::Set result;
    if (intersect) {
      std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::inserter(result, result.end()));
    } else {
      std::set_union(a.begin(), a.end(), b.begin(), b.end(), std::inserter(result, result.end()));
    }
    return Value::FromSet(std::move(result));
  });
}

// intersection / union over a set of sets.
void AddSetOfSets(BuiltinRegistry& registry, std::string name, bool intersect) {
  AddBuiltin(registry, name, 1, [name, intersect](std::span<const Value> ops) -> Result<Value> {
    RETURN_IF_ERROR(ExpectKind(name, ops, 0, Kind::kSet));
    std::optional<Value::Set> result;
    for (const Value& member : ops[0].as_set()) {
      if (!member.is_set()) return TypeError(name, 1, "set", member);
      if (!result) {
        result = member.as_set();
      } else if (intersect) {
        Value::Set next;
        std::set_intersection(result->begin(), result->end(), member.as_set().begin(), member.as_set().end(),
                              std::inserter(next, next.end()));
        result = std::move(next);
      } else {
        result->insert(member.as_set().begin(), member.as_set().end());
      }
    }
    return Value::FromSet(result ? std::move(*result) : Value::Set{});
  });
}

Result<Value> Sort(std::span<const Value> ops) {
  const Value& v = ops[0];
  if (v.is_set()) return Value::FromArray(Value::Array(v.as_set().begin(), v.as_set().end()));
  if (!v.is_array()) return TypeError("sort", 1, "one of {set, array}", v);
  Value::Array items = v.as_array();
  std::stable_sort(items.begin(), items.end());
  return Value::FromArray(std::move(items));
}

void WalkInto(const Value& v, Value::Array& path, Value::Array& out) {
  out.push_back(Value::FromArray({Value::FromArray(path), v}));
  const auto descend = [&](const Value& key, const Value& child) {
    path.push_back(key);
    WalkInto(child, path, out);
    path.pop_back();
  };
  switch (v.kind()) {
    case Kind::kArray: {
      const Value::Array& items = v.as_array();
      for (size_t i = 0; i < items.size(); ++i) descend(Value::Int(static_cast<int64_t>(i)), items[i]);
      break;
    }
    case Kind::kObject:
      for (const auto& [key, value] : v.as_object()) descend(key, value);
      break;
    case Kind::kSet:
      for (const Value& item : v.as_set()) descend(item, item);
      break;
    default: break;
  }
}

Result<Value> Walk(std::span<const Value> ops) {
  Value::Array path;
  Value::Array out;
  WalkInto(ops[0], path, out);
  return Value::FromArray(std::move(out));
}

}  // namespace

void RegisterCollectionBuiltins(BuiltinRegistry& registry) {
  AddBuiltin(registry, "count", 1, Count);
  AddBuiltin(registry, "object.get", 3, ObjectGet);
  AddBuiltin(registry, "object.keys", 1, ObjectKeys);
  AddKeyFilter(registry, "object.remove", false);
  AddKeyFilter(registry, "object.filter", true);
  AddBuiltin(registry, "object.union", 2, ObjectUnion);
  AddBuiltin(registry, "object.union_n", 1, ObjectUnionN);
  AddBuiltin(registry, "object.subset", 2, ObjectSubsetBuiltin);
  AddBuiltin(registry, "json.filter", 2, JsonFilter);
  AddBuiltin(registry, "json.remove", 2, JsonRemove);
  AddBuiltin(registry, "json.patch", 2, JsonPatch);
  AddBuiltin(registry, "array.concat", 2, ArrayConcat);
  AddBuiltin(registry, "array.slice", 3, ArraySlice);
  AddBuiltin(registry, "array.reverse", 1, ArrayReverse);
  AddSetOfSets(registry, "intersection", true);
  AddSetOfSets(registry, "union", false);
  AddSetOperator(registry, "and", true);
  AddSetOperator(registry, "or", false);
  AddBuiltin(registry, "sort", 1, Sort);
  AddBuiltin(registry, "walk", 1, Walk, /*relation=*/true);
}

}  // namespace contrast::policy::rego

#undef RETURN_IF_ERROR
