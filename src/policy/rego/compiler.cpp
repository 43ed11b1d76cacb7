#include "policy/rego/compiler.h"

#include <algorithm>
#include <atomic>
#include <functional>
#include <optional>
#include <set>
#include <tuple>

namespace contrast::policy::rego::ir {
namespace {

bool IsGeneratedName(std::string_view name) { return name.find('$') != std::string_view::npos; }

std::string DisplayName(std::string_view name) {
  if (IsGeneratedName(name) && name.starts_with("_")) return "_";
  return std::string(name);
}

// "a.b" -> ["a", "b"]; string brackets are path elements too, as a function
// name written as a reference shows them: `a["c.d"].e` -> ["a", "c.d", "e"].
std::vector<std::string> SplitDotted(std::string_view name) {
  std::vector<std::string> parts;
  std::string current;
  bool after_bracket = false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (c == '.') {
      if (!after_bracket) parts.push_back(std::move(current));
      current.clear();
      after_bracket = false;
      continue;
    }
    if (c == '[' && i + 1 < name.size() && name[i + 1] == '"') {
      size_t end = i + 2;
      while (end < name.size() && name[end] != '"') end += name[end] == '\\' ? 2 : 1;
      if (end + 1 < name.size() && name[end + 1] == ']') {
        auto element = Value::FromJson(name.substr(i + 1, end - i));
        if (element && element->is_string()) {
          if (!after_bracket) parts.push_back(std::move(current));
          current.clear();
          parts.push_back(element->as_string());
          after_bracket = true;
          i = end + 1;
          continue;
        }
      }
    }
    current += c;
  }
  if (!after_bracket) parts.push_back(std::move(current));
  return parts;
}

std::string PathText(const std::vector<Value>& path) {
  std::string text = "data";
  for (const Value& element : path) {
    if (element.is_string()) {
      text += "." + element.as_string();
    } else {
      text += "[" + element.ToJson() + "]";
    }
  }
  return text;
}

// Where a name used in a body points.
struct Resolution {
  enum class Kind { kLocal, kData, kInput, kUnresolved };
  Kind kind = Kind::kUnresolved;
  int slot = -1;
  std::vector<Value> path;  // below data / input
};

struct Scope {
  Scope* parent = nullptr;
  std::map<std::string, int, std::less<>> vars;
  // Variables declared with `:=` or `some` are visible to nested bodies only
  // after their declaring expression (OPA scopes them textually: in
  // `a := {x: a | ...}` the inner `a` is the comprehension's own).
  std::map<int, int> declared_at;  // slot -> expression index
  int current = 0;                 // index of the expression being compiled
  std::set<int> closure;
};

// What a module's bodies can refer to by bare name.
struct ModuleContext {
  std::vector<Value> package;
  std::string file;
  std::map<std::string, std::pair<bool, std::vector<Value>>, std::less<>> imports;  // alias -> (is data, path)
  const std::set<std::string, std::less<>>* rule_names = nullptr;
};

// The variables an expression reads (`in`) and may bind (`out`).
struct VarInfo {
  std::vector<int> in;
  std::vector<int> out;
};

void TermVars(const Term& term, bool pattern, VarInfo& info) {
  switch (term.kind) {
    case TermKind::kConst:
    case TermKind::kInput:
    case TermKind::kData: return;
    case TermKind::kLocal: (pattern ? info.out : info.in).push_back(term.slot); return;
    case TermKind::kRef:
      TermVars(term.operands[0], false, info);
      for (size_t i = 1; i < term.operands.size(); ++i) {
        const Term& element = term.operands[i];
        const bool composite = element.kind == TermKind::kArray || element.kind == TermKind::kObject;
        TermVars(element, element.kind == TermKind::kLocal || composite, info);
      }
      return;
    case TermKind::kArray:
      for (const Term& element : term.operands) TermVars(element, pattern, info);
      return;
    case TermKind::kSet:
      for (const Term& element : term.operands) TermVars(element, false, info);
      return;
    case TermKind::kObject:
      for (size_t i = 0; i + 1 < term.operands.size(); i += 2) {
        TermVars(term.operands[i], false, info);
        TermVars(term.operands[i + 1], pattern, info);
      }
      return;
    case TermKind::kArrayCompr:
    case TermKind::kSetCompr:
    case TermKind::kObjectCompr:
      for (int slot : term.body->closure) info.in.push_back(slot);
      return;
    case TermKind::kCall:
      for (size_t i = 0; i < term.operands.size(); ++i) {
        const bool output = term.output_arg && i + 1 == term.operands.size();
        TermVars(term.operands[i], output, info);
      }
      return;
  }
}

// True when every variable the term would have to bind as a pattern is bound:
// the term can then be evaluated to values.
bool PatternBound(const Term& term, const std::vector<char>& bound) {
  switch (term.kind) {
    case TermKind::kLocal: return bound[term.slot] != 0;
    case TermKind::kArray:
      return std::all_of(term.operands.begin(), term.operands.end(),
                         [&](const Term& t) { return PatternBound(t, bound); });
    case TermKind::kObject:
      for (size_t i = 1; i < term.operands.size(); i += 2) {
        if (!PatternBound(term.operands[i], bound)) return false;
      }
      return true;
    default: return true;
  }
}

void BindPatternVars(const Term& term, std::vector<char>& bound) {
  VarInfo info;
  TermVars(term, true, info);
  for (int slot : info.out) bound[slot] = 1;
}

bool CanUnify(const Term& a, const Term& b, const std::vector<char>& bound) {
  if (PatternBound(a, bound) || PatternBound(b, bound)) return true;
  if (a.kind == TermKind::kArray && b.kind == TermKind::kArray && a.operands.size() == b.operands.size()) {
    std::vector<char> sim = bound;
    for (size_t i = 0; i < a.operands.size(); ++i) {
      if (!CanUnify(a.operands[i], b.operands[i], sim)) return false;
      BindPatternVars(a.operands[i], sim);
      BindPatternVars(b.operands[i], sim);
    }
    return true;
  }
  if (a.kind == TermKind::kObject && b.kind == TermKind::kObject && a.operands.size() == b.operands.size()) {
    std::vector<char> sim = bound;
    for (size_t i = 0; i + 1 < a.operands.size(); i += 2) {
      const Term& key = a.operands[i];
      if (key.kind != TermKind::kConst) return false;
      const Term* other = nullptr;
      for (size_t j = 0; j + 1 < b.operands.size(); j += 2) {
        if (b.operands[j].kind == TermKind::kConst && b.operands[j].value == key.value) other = &b.operands[j + 1];
      }
      if (other == nullptr) return false;
      if (!CanUnify(a.operands[i + 1], *other, sim)) return false;
      BindPatternVars(a.operands[i + 1], sim);
      BindPatternVars(*other, sim);
    }
    return true;
  }
  return false;
}

class Compiler {
 public:
  Compiler(Policy& policy, const BuiltinRegistry& builtins) : policy_(policy), builtins_(builtins) {}

  Status BuildTree();
  Status CompileRules();
  Status CheckRecursion();
  // Sets RuleNode::early_exit; needs the dependencies free of cycles.
  void MarkEarlyExits();
  Result<std::unique_ptr<Query>> CompileQueryBody(const ast::Body& body);

 private:
  struct PendingRule {
    RuleNode* node;
    const ast::Rule* rule;
    const ModuleContext* context;
    bool is_default;
    int body_index;
  };

  void Report(std::string_view code, const Location& location, std::string_view text) {
    if (!error_) error_ = RegoError(code, location, text);
  }

  // --- rules
  // How many elements of the rule's path name its node: all of them, or for
  // a general reference head (`a.b[x].c`, a variable before the last
  // element) only the first, so that all rules named `a` share one node.
  static size_t GeneralRefStart(const ast::Rule& rule);
  std::unique_ptr<RuleDef> CompileRuleDef(const ast::Rule& rule, const ast::Rule& head, int body_index);

  // --- scopes
  int NewSlot(Scope& scope, const std::string& name) {
    const int slot = static_cast<int>(slot_names_.size());
    slot_names_.push_back(name);
    scope.vars[name] = slot;
    return slot;
  }
  void Declare(Scope& scope, const std::string& name, const Location& location, bool assignment);
  Resolution Resolve(Scope& scope, std::string_view name);
  void DeclareBody(const ast::Body& body, Scope& scope);
  void UseTermVars(const ast::Term& term, Scope& scope);
  static void PatternVarNames(const ast::Term& term, std::vector<std::string>& names);

  // --- terms and bodies
  Term CompileTerm(const ast::Term& term, Scope& scope);
  Term CompileRef(const ast::Term& term, Scope& scope);
  // Fills Term::rule / rule_next (and path_cache) of a data reference.
  void ResolveRulePrefix(Term& ref);
  Term CompileCall(const ast::Term& term, Scope& scope);
  std::shared_ptr<const Body> CompileNestedBody(const ast::Body& body, Scope& scope,
                                                const std::vector<const ast::Term*>& heads,
                                                std::vector<Term>& compiled_heads, const ast::Term* every_key,
                                                const ast::Term* every_value, Term* key_out, Term* value_out);
  void CompileBodyInto(const ast::Body& body, Scope& scope, Body& out, std::vector<char> bound);
  Expr CompileExpr(const ast::Expr& expr, Scope& scope);
  void Plan(Body& body, std::vector<char>& bound);
  static bool InPlaceTerm(const Term& term, std::vector<int>& reads);
  // Sets RuleDef::guard and what goes with it.
  static void FindGuard(RuleDef& def);
  static InPlaceShape ShapeOf(const Term& term);
  // Sets some.filter_operand when `next` compares its local with a lookup.
  static void MarkFilter(Expr& some, const Expr& next);
  const RuleNode* FindNode(const std::vector<Value>& path) const;
  bool ResolveFunctionName(std::string_view name, const Builtin** builtin, const RuleNode** function);
  // Records the rules a data reference may read, for the recursion check.
  void RecordDataDep(const Term& ref);
  // A with target named through an import or a rule of the package
  // (`with b as 1`) becomes its data (or input) path, as OPA resolves it.
  void ResolveWithTargetAlias(std::vector<std::string>& names) const;
  static Location NodeLocation(const RuleNode* node);
  // The rules from `start` along dependencies back to `start` (empty: none).
  std::vector<const RuleNode*> CyclePath(const RuleNode* start) const;
  static Term Fold(Term term);

  Policy& policy_;
  bool compiling_query_ = false;
  const BuiltinRegistry& builtins_;
  std::optional<Error> error_;
  std::vector<std::unique_ptr<ModuleContext>> contexts_;
  std::map<std::vector<Value>, std::set<std::string, std::less<>>> rule_names_;
  std::vector<PendingRule> pending_;

  // Per rule (or query) being compiled.
  const ModuleContext* context_ = nullptr;
  RuleNode* current_node_ = nullptr;
  std::vector<std::string> slot_names_;
  std::vector<Scope*> scope_stack_;
};

size_t Compiler::GeneralRefStart(const ast::Rule& rule) {
  for (const auto& element : rule.path) {
    if (element->type != ast::TermType::kValue || !element->value.is_string())
      return std::min<size_t>(1, rule.path.size());
  }
  return rule.path.size();
}

Status Compiler::BuildTree() {
  policy_.root = std::make_unique<RuleNode>();
  policy_.root->path_text = "data";
  // Rule names per package first: bodies may refer to rules of other modules.
  for (const auto& module : policy_.modules) {
    std::vector<Value> package;
    for (const std::string& part : module->package) package.push_back(Value::String(part));
    auto& names = rule_names_[package];
    for (const auto& rule : module->rules) {
      if (!rule->path.empty() && rule->path[0]->type == ast::TermType::kValue && rule->path[0]->value.is_string()) {
        names.insert(rule->path[0]->value.as_string());
      }
    }
  }
  for (const auto& module : policy_.modules) {
    auto context = std::make_unique<ModuleContext>();
    context->file = module->filename;
    for (const std::string& part : module->package) context->package.push_back(Value::String(part));
    context->rule_names = &rule_names_[context->package];
    for (const ast::Import& import : module->imports) {
      if (import.path.empty()) continue;
      const std::string& root = import.path[0];
      if (root != "data" && root != "input") continue;  // future.keywords, rego.v1: nothing to do
      std::string alias = import.alias.empty() ? import.path.back() : import.alias;
      std::vector<Value> path;
      for (size_t i = 1; i < import.path.size(); ++i) path.push_back(Value::String(import.path[i]));
      if (root == "input" && import.path.size() == 1 && import.alias.empty()) continue;
      context->imports[alias] = {root == "data", std::move(path)};
    }
    int body_index = 0;
    for (const auto& rule : module->rules) {
      std::vector<Value> path = context->package;
      const size_t general_at = GeneralRefStart(*rule);
      for (size_t i = 0; i < general_at; ++i) path.push_back(rule->path[i]->value);
      const bool general = general_at < rule->path.size();
      if (path.empty()) return contrast::Fail(RegoError(kRegoCompileError, rule->location, "rule without a name"));
      RuleNode* node = policy_.root.get();
      for (size_t i = 0; i < path.size(); ++i) {
        auto& child = node->children[path[i]];
        if (!child) {
          child = std::make_unique<RuleNode>();
          child->key = path[i];
          child->path_text = PathText(std::vector<Value>(path.begin(), path.begin() + static_cast<long>(i) + 1));
        }
        node = child.get();
        if (i + 1 < path.size() && node->has_rules) {
          return contrast::Fail(RegoError(kRegoTypeError, rule->location,
                                          "rule " + PathText(path) + " conflicts with rule " + node->path_text));
        }
      }
      if (!node->children.empty()) {
        return contrast::Fail(
            RegoError(kRegoTypeError, rule->location, "rule " + node->path_text + " conflicts with rules below it"));
      }
      if (node->has_rules && node->general != general) {
        return contrast::Fail(
            RegoError(kRegoTypeError, rule->location, "conflicting rules " + node->path_text + " found"));
      }
      if (general && rule->is_default) {
        return contrast::Fail(
            RegoError(kRegoTypeError, rule->location, "default rules cannot have variables in their reference"));
      }
      if (node->has_rules && !general && node->kind != rule->kind) {
        return contrast::Fail(
            RegoError(kRegoTypeError, rule->location, "conflicting rules " + node->path_text + " found"));
      }
      const int arity = static_cast<int>(rule->args.size());
      if (node->has_rules && rule->kind == ast::RuleKind::kFunction && node->arity != arity) {
        return contrast::Fail(RegoError(kRegoTypeError, rule->location,
                                        "conflicting rules " + node->path_text + " found (function arity mismatch)"));
      }
      if (rule->is_default) {
        for (const auto& pending : pending_) {
          if (pending.node == node && pending.is_default) {
            return contrast::Fail(
                RegoError(kRegoTypeError, rule->location, "multiple default rules " + node->path_text + " found"));
          }
        }
      }
      node->has_rules = true;
      // A general node's value is an object whatever its rules' kinds.
      node->general = general;
      node->kind = general ? ast::RuleKind::kPartialObject : rule->kind;
      node->arity = arity;
      pending_.push_back({node, rule.get(), context.get(), rule->is_default, rule->is_default ? 0 : body_index});
      if (!rule->is_default) ++body_index;
    }
    contexts_.push_back(std::move(context));
  }
  std::function<void(RuleNode*)> number = [&](RuleNode* node) {
    if (node->has_rules) {
      node->index = static_cast<int>(policy_.rule_nodes.size());
      policy_.rule_nodes.push_back(node);
    }
    for (auto& [key, child] : node->children) number(child.get());
  };
  number(policy_.root.get());
  return {};
}

Status Compiler::CompileRules() {
  for (const auto& pending : pending_) {
    context_ = pending.context;
    current_node_ = pending.node;
    auto def = CompileRuleDef(*pending.rule, *pending.rule, pending.body_index);
    if (error_) return contrast::Fail(*error_);
    if (pending.is_default) {
      pending.node->default_def = std::move(def);
    } else {
      pending.node->defs.push_back(std::move(def));
    }
  }
  return {};
}

std::unique_ptr<RuleDef> Compiler::CompileRuleDef(const ast::Rule& rule, const ast::Rule& head, int body_index) {
  auto def = std::make_unique<RuleDef>();
  def->source = &rule;
  def->location = rule.location;
  def->body_index = body_index;
  slot_names_.clear();
  Scope scope;
  scope_stack_ = {&scope};
  // Function parameters are locals of the rule and shadow rule names.
  std::vector<std::string> names;
  for (const auto& arg : head.args) PatternVarNames(*arg, names);
  for (const std::string& name : names) {
    if (!scope.vars.contains(name)) NewSlot(scope, name);
  }
  DeclareBody(rule.body, scope);
  const size_t general_at = GeneralRefStart(head);
  for (size_t i = general_at; i < head.path.size(); ++i) UseTermVars(*head.path[i], scope);
  if (rule.key) UseTermVars(*rule.key, scope);
  if (rule.value) UseTermVars(*rule.value, scope);

  std::vector<char> bound;
  for (const auto& arg : head.args) {
    def->args.push_back(CompileTerm(*arg, scope));
    if (def->args.back().kind != TermKind::kLocal) def->plain_params = false;
  }
  for (size_t i = general_at; i < head.path.size(); ++i) def->key_path.push_back(CompileTerm(*head.path[i], scope));
  if (rule.key) {
    def->has_key = true;
    def->key = CompileTerm(*rule.key, scope);
  }
  if (rule.value) {
    def->value = CompileTerm(*rule.value, scope);
  } else {
    def->value.value = Value::Bool(true);
  }
  std::vector<Expr> exprs;
  for (const auto& expr : rule.body) {
    exprs.push_back(CompileExpr(*expr, scope));
    ++scope.current;
  }
  def->body.exprs = std::move(exprs);
  bound.assign(slot_names_.size(), 0);
  for (const Term& arg : def->args) BindPatternVars(arg, bound);
  Plan(def->body, bound);
  if (!error_) {
    // Every variable of the head must be bound by the body (or the arguments).
    VarInfo info;
    if (def->has_key) TermVars(def->key, false, info);
    TermVars(def->value, false, info);
    for (const Term& element : def->key_path) TermVars(element, false, info);
    for (int slot : info.in) {
      if (!bound[slot]) {
        Report(kRegoUnsafeVarError, rule.location, "var " + DisplayName(slot_names_[slot]) + " is unsafe");
        break;
      }
    }
  }
  def->frame_size = static_cast<int>(slot_names_.size());
  def->slot_names = slot_names_;
  if (!error_) FindGuard(*def);
  if (rule.else_rule && !error_) {
    def->else_rule = CompileRuleDef(*rule.else_rule, head, body_index);
  }
  return def;
}

void Compiler::FindGuard(RuleDef& def) {
  if (def.args.empty() || !def.plain_params || def.args.size() > 127) return;
  size_t first = 0;
  while (first < def.body.exprs.size() && def.body.exprs[first].quiet_print) ++first;
  if (first == def.body.exprs.size()) return;
  const Expr& expr = def.body.exprs[first];
  const Term& term = expr.term;
  if (expr.kind != ExprKind::kTerm || expr.negated || !expr.with.empty() || term.kind != TermKind::kCall ||
      term.output_arg || term.operands.size() != 2) {
    return;
  }
  switch (term.call) {
    case CallKind::kEqual:
    case CallKind::kNotEqual:
    case CallKind::kLess:
    case CallKind::kLessEqual:
    case CallKind::kGreater:
    case CallKind::kGreaterEqual:
    case CallKind::kMember2: break;
    default: return;
  }
  // The parameter a local is, or -1 when it is not a parameter.
  const auto param = [&](int slot) {
    for (size_t i = 0; i < def.args.size(); ++i) {
      if (def.args[i].slot == slot) return static_cast<int>(i);
    }
    return -1;
  };
  std::array<int8_t, 2> params = {-1, -1};
  for (size_t i = 0; i < 2; ++i) {
    const Term& operand = term.operands[i];
    const Term* head = operand.kind == TermKind::kRef ? &operand.operands[0] : &operand;
    if (operand.kind == TermKind::kRef &&
        !std::all_of(operand.operands.begin() + 1, operand.operands.end(),
                     [](const Term& element) { return element.kind == TermKind::kConst; })) {
      return;
    }
    if (head->kind == TermKind::kLocal) {
      const int index = param(head->slot);
      if (index < 0) return;
      params[i] = static_cast<int8_t>(index);
    } else if (head->kind != TermKind::kConst && head->kind != TermKind::kInput) {
      return;
    }
    if (head->kind == TermKind::kConst && operand.kind == TermKind::kRef) return;
  }
  def.guard = static_cast<int>(first);
  def.guard_params = params;
  def.guard_after_prints = first > 0;
}

void Compiler::PatternVarNames(const ast::Term& term, std::vector<std::string>& names) {
  switch (term.type) {
    case ast::TermType::kVar: names.push_back(term.name); return;
    case ast::TermType::kArray:
      for (const auto& element : term.operands) PatternVarNames(*element, names);
      return;
    case ast::TermType::kObject:
      for (size_t i = 1; i < term.operands.size(); i += 2) PatternVarNames(*term.operands[i], names);
      return;
    default: return;
  }
}

void Compiler::Declare(Scope& scope, const std::string& name, const Location& location, bool assignment) {
  if (name == "input" || name == "data") {
    Report(kRegoCompileError, location, "variables must not shadow " + name);
    return;
  }
  if (scope.vars.contains(name)) {
    if (assignment) Report(kRegoCompileError, location, "var " + name + " assigned above");
    return;
  }
  NewSlot(scope, name);
}

void Compiler::DeclareBody(const ast::Body& body, Scope& scope) {
  int index = 0;
  for (const auto& expr : body) {
    std::vector<std::string> names;
    bool assignment = false;
    switch (expr->type) {
      case ast::ExprType::kSome: names = expr->vars; break;
      case ast::ExprType::kSomeIn:
        if (expr->key) PatternVarNames(*expr->key, names);
        if (expr->value) PatternVarNames(*expr->value, names);
        break;
      case ast::ExprType::kTerm:
        if (expr->term && expr->term->type == ast::TermType::kCall && expr->term->name == "assign" &&
            expr->term->operands.size() == 2) {
          PatternVarNames(*expr->term->operands[0], names);
          assignment = true;
        }
        break;
      case ast::ExprType::kEvery: break;
    }
    for (const std::string& name : names) {
      Declare(scope, name, expr->location, assignment);
      auto it = scope.vars.find(name);
      if (it != scope.vars.end() && !scope.declared_at.contains(it->second)) scope.declared_at[it->second] = index;
    }
    ++index;
  }
  for (const auto& expr : body) {
    switch (expr->type) {
      case ast::ExprType::kSome: break;
      case ast::ExprType::kSomeIn:
        if (expr->key) UseTermVars(*expr->key, scope);
        if (expr->value) UseTermVars(*expr->value, scope);
        if (expr->domain) UseTermVars(*expr->domain, scope);
        break;
      case ast::ExprType::kEvery:
        if (expr->domain) UseTermVars(*expr->domain, scope);
        break;
      case ast::ExprType::kTerm:
        if (expr->term) UseTermVars(*expr->term, scope);
        break;
    }
    for (const ast::With& with : expr->with) {
      if (with.value) UseTermVars(*with.value, scope);
    }
  }
}

// Allocates the variables a term mentions directly (not those of nested
// comprehension bodies, which get their own scopes).
void Compiler::UseTermVars(const ast::Term& term, Scope& scope) {
  switch (term.type) {
    case ast::TermType::kVar: Resolve(scope, term.name); return;
    case ast::TermType::kArrayComprehension:
    case ast::TermType::kSetComprehension:
    case ast::TermType::kObjectComprehension: return;
    default:
      for (const auto& operand : term.operands) {
        if (operand) UseTermVars(*operand, scope);
      }
      return;
  }
}

Resolution Compiler::Resolve(Scope& scope, std::string_view name) {
  Resolution result;
  // Locals of this and enclosing scopes.
  std::vector<Scope*> crossed;
  for (Scope* s = &scope; s != nullptr; s = s->parent) {
    auto it = s->vars.find(name);
    if (it != s->vars.end() && s != &scope) {
      auto declared = s->declared_at.find(it->second);
      if (declared != s->declared_at.end() && declared->second >= s->current) it = s->vars.end();
    }
    if (it != s->vars.end()) {
      for (Scope* inner : crossed) inner->closure.insert(it->second);
      result.kind = Resolution::Kind::kLocal;
      result.slot = it->second;
      return result;
    }
    crossed.push_back(s);
  }
  if (name == "data") {
    result.kind = Resolution::Kind::kData;
    return result;
  }
  if (name == "input") {
    result.kind = Resolution::Kind::kInput;
    return result;
  }
  if (context_ != nullptr) {
    auto import = context_->imports.find(name);
    if (import != context_->imports.end()) {
      result.kind = import->second.first ? Resolution::Kind::kData : Resolution::Kind::kInput;
      result.path = import->second.second;
      return result;
    }
    if (context_->rule_names != nullptr && context_->rule_names->contains(name)) {
      result.kind = Resolution::Kind::kData;
      result.path = context_->package;
      result.path.push_back(Value::String(std::string(name)));
      return result;
    }
  }
  result.kind = Resolution::Kind::kLocal;
  result.slot = NewSlot(scope, std::string(name));
  return result;
}

Term Compiler::Fold(Term term) {
  switch (term.kind) {
    case TermKind::kArray: {
      Value::Array items;
      for (const Term& element : term.operands) {
        if (element.kind != TermKind::kConst) return term;
        items.push_back(element.value);
      }
      Term folded;
      folded.value = Value::FromArray(std::move(items));
      return folded;
    }
    case TermKind::kSet: {
      Value::Set items;
      for (const Term& element : term.operands) {
        if (element.kind != TermKind::kConst) return term;
        items.insert(element.value);
      }
      Term folded;
      folded.value = Value::FromSet(std::move(items));
      return folded;
    }
    case TermKind::kObject: {
      Value::Object items;
      for (const Term& element : term.operands) {
        if (element.kind != TermKind::kConst) return term;
      }
      for (size_t i = 0; i + 1 < term.operands.size(); i += 2) {
        items.insert_or_assign(term.operands[i].value, term.operands[i + 1].value);
      }
      Term folded;
      folded.value = Value::FromObject(std::move(items));
      return folded;
    }
    default: return term;
  }
}

const RuleNode* Compiler::FindNode(const std::vector<Value>& path) const {
  const RuleNode* node = policy_.root.get();
  for (const Value& element : path) {
    node = node->Child(element);
    if (node == nullptr) return nullptr;
  }
  return node;
}

void Compiler::RecordDataDep(const Term& ref) {
  if (current_node_ == nullptr) return;
  // Elements that are not constants match any key (`data[ns].svn` depends on
  // the rules named svn one level down, not on every rule), as OPA's
  // recursion check does.
  std::function<void(const RuleNode*, size_t)> visit = [&](const RuleNode* node, size_t i) {
    if (node->has_rules) {
      current_node_->deps.push_back(node);
      return;
    }
    if (i < ref.operands.size() && ref.operands[i].kind == TermKind::kConst) {
      if (const RuleNode* child = node->Child(ref.operands[i].value)) visit(child, i + 1);
      return;
    }
    for (const auto& [key, child] : node->children) visit(child.get(), i + 1);
  };
  visit(policy_.root.get(), 1);
}

void Compiler::ResolveRulePrefix(Term& ref) {
  const RuleNode* node = policy_.root.get();
  for (size_t i = 1; i < ref.operands.size() && node != nullptr; ++i) {
    if (ref.operands[i].kind != TermKind::kConst) return;
    node = node->Child(ref.operands[i].value);
    if (node != nullptr && node->has_rules) {
      if (node->kind == ast::RuleKind::kFunction) return;
      ref.rule = node;
      ref.rule_next = static_cast<uint32_t>(i + 1);
      // Queries are compiled after the policy, whose cache size is fixed.
      const bool constant = std::all_of(ref.operands.begin() + static_cast<std::ptrdiff_t>(ref.rule_next),
                                        ref.operands.end(), [](const Term& t) { return t.kind == TermKind::kConst; });
      if (constant && !compiling_query_) ref.path_cache = policy_.path_cache_size++;
      return;
    }
  }
}

Term Compiler::CompileRef(const ast::Term& term, Scope& scope) {
  Term ref;
  ref.kind = TermKind::kRef;
  const ast::Term& head = *term.operands[0];
  bool data_head = false;
  if (head.type == ast::TermType::kVar) {
    Resolution resolved = Resolve(scope, head.name);
    Term head_term;
    switch (resolved.kind) {
      case Resolution::Kind::kLocal:
        head_term.kind = TermKind::kLocal;
        head_term.slot = resolved.slot;
        break;
      case Resolution::Kind::kData:
        head_term.kind = TermKind::kData;
        data_head = true;
        break;
      case Resolution::Kind::kInput: head_term.kind = TermKind::kInput; break;
      case Resolution::Kind::kUnresolved: break;
    }
    ref.operands.push_back(std::move(head_term));
    for (Value& element : resolved.path) {
      Term constant;
      constant.value = std::move(element);
      ref.operands.push_back(std::move(constant));
    }
  } else {
    ref.operands.push_back(CompileTerm(head, scope));
  }
  for (size_t i = 1; i < term.operands.size(); ++i) ref.operands.push_back(CompileTerm(*term.operands[i], scope));
  if (data_head) {
    RecordDataDep(ref);
    ResolveRulePrefix(ref);
  }
  if (ref.operands.size() == 1 && ref.operands[0].kind != TermKind::kData) return std::move(ref.operands[0]);
  return ref;
}

bool Compiler::ResolveFunctionName(std::string_view name, const Builtin** builtin, const RuleNode** function) {
  *builtin = nullptr;
  *function = nullptr;
  std::vector<std::string> parts = SplitDotted(name);
  std::optional<std::vector<Value>> path;
  if (parts[0] == "data") {
    path.emplace();
    for (size_t i = 1; i < parts.size(); ++i) path->push_back(Value::String(parts[i]));
  } else if (context_ != nullptr) {
    auto import = context_->imports.find(parts[0]);
    if (import != context_->imports.end() && import->second.first) {
      path = import->second.second;
      for (size_t i = 1; i < parts.size(); ++i) path->push_back(Value::String(parts[i]));
    } else if (context_->rule_names != nullptr && context_->rule_names->contains(parts[0])) {
      path = context_->package;
      for (const std::string& part : parts) path->push_back(Value::String(part));
    }
  }
  if (path) {
    const RuleNode* node = FindNode(*path);
    if (node != nullptr && node->has_rules && node->kind == ast::RuleKind::kFunction) {
      *function = node;
      return true;
    }
  }
  *builtin = builtins_.Find(name);
  return *builtin != nullptr;
}

Term Compiler::CompileCall(const ast::Term& term, Scope& scope) {
  Term call;
  call.kind = TermKind::kCall;
  for (const auto& operand : term.operands) call.operands.push_back(CompileTerm(*operand, scope));
  const size_t argc = call.operands.size();
  struct Native {
    std::string_view name;
    CallKind kind;
    size_t arity;
  };
  static constexpr Native kNatives[] = {
      {"equal", CallKind::kEqual, 2},
      {"neq", CallKind::kNotEqual, 2},
      {"lt", CallKind::kLess, 2},
      {"lte", CallKind::kLessEqual, 2},
      {"gt", CallKind::kGreater, 2},
      {"gte", CallKind::kGreaterEqual, 2},
      {"internal.member_2", CallKind::kMember2, 2},
      {"internal.member_3", CallKind::kMember3, 3},
  };
  if (term.name == "print") {
    call.call = CallKind::kPrint;
    return call;
  }
  if (term.name == "eq" || term.name == "assign") {
    Report(kRegoCompileError, term.location, "unexpected " + std::string(term.name == "eq" ? "=" : ":=") + " here");
    return call;
  }
  size_t arity = 0;
  bool found = false;
  for (const Native& native : kNatives) {
    if (term.name == native.name) {
      call.call = native.kind;
      arity = native.arity;
      found = true;
      break;
    }
  }
  if (!found) {
    const Builtin* builtin = nullptr;
    const RuleNode* function = nullptr;
    if (!ResolveFunctionName(term.name, &builtin, &function)) {
      Report(kRegoTypeError, term.location, "undefined function " + term.name);
      return call;
    }
    if (function != nullptr) {
      call.call = CallKind::kFunction;
      call.function = function;
      arity = static_cast<size_t>(function->arity);
      if (current_node_ != nullptr) current_node_->deps.push_back(function);
    } else {
      call.call = CallKind::kBuiltin;
      call.builtin = builtin;
      arity = static_cast<size_t>(std::max(builtin->arity, 0));
    }
  }
  if (argc == arity + 1) {
    call.output_arg = true;
  } else if (argc != arity) {
    Report(kRegoTypeError, term.location,
           term.name + ": arity mismatch: have " + std::to_string(argc) + " arguments, want " + std::to_string(arity));
  }
  return call;
}

Term Compiler::CompileTerm(const ast::Term& term, Scope& scope) {
  Term out;
  switch (term.type) {
    case ast::TermType::kValue: out.value = term.value; return out;
    case ast::TermType::kVar: {
      Resolution resolved = Resolve(scope, term.name);
      switch (resolved.kind) {
        case Resolution::Kind::kLocal:
          out.kind = TermKind::kLocal;
          out.slot = resolved.slot;
          return out;
        case Resolution::Kind::kInput:
        case Resolution::Kind::kData: {
          Term head;
          head.kind = resolved.kind == Resolution::Kind::kData ? TermKind::kData : TermKind::kInput;
          if (resolved.path.empty() && head.kind == TermKind::kInput) return head;
          out.kind = TermKind::kRef;
          out.operands.push_back(std::move(head));
          for (Value& element : resolved.path) {
            Term constant;
            constant.value = std::move(element);
            out.operands.push_back(std::move(constant));
          }
          if (resolved.kind == Resolution::Kind::kData) {
            RecordDataDep(out);
            ResolveRulePrefix(out);
          }
          return out;
        }
        case Resolution::Kind::kUnresolved: return out;
      }
      return out;
    }
    case ast::TermType::kRef:
      if (term.operands.empty()) return out;
      return CompileRef(term, scope);
    case ast::TermType::kArray:
    case ast::TermType::kSet:
    case ast::TermType::kObject:
      out.kind = term.type == ast::TermType::kArray ? TermKind::kArray
                 : term.type == ast::TermType::kSet ? TermKind::kSet
                                                    : TermKind::kObject;
      for (const auto& operand : term.operands) out.operands.push_back(CompileTerm(*operand, scope));
      return Fold(std::move(out));
    case ast::TermType::kArrayComprehension:
    case ast::TermType::kSetComprehension:
    case ast::TermType::kObjectComprehension: {
      out.kind = term.type == ast::TermType::kArrayComprehension ? TermKind::kArrayCompr
                 : term.type == ast::TermType::kSetComprehension ? TermKind::kSetCompr
                                                                 : TermKind::kObjectCompr;
      std::vector<const ast::Term*> heads;
      for (const auto& operand : term.operands) heads.push_back(operand.get());
      out.body = CompileNestedBody(term.body, scope, heads, out.operands, nullptr, nullptr, nullptr, nullptr);
      return out;
    }
    case ast::TermType::kCall: return CompileCall(term, scope);
  }
  return out;
}

std::shared_ptr<const Body> Compiler::CompileNestedBody(const ast::Body& body, Scope& scope,
                                                        const std::vector<const ast::Term*>& heads,
                                                        std::vector<Term>& compiled_heads, const ast::Term* every_key,
                                                        const ast::Term* every_value, Term* key_out, Term* value_out) {
  auto nested = std::make_shared<Body>();
  Scope inner;
  inner.parent = &scope;
  std::vector<std::string> declared;
  if (every_key != nullptr) PatternVarNames(*every_key, declared);
  if (every_value != nullptr) PatternVarNames(*every_value, declared);
  for (const std::string& name : declared) {
    if (!inner.vars.contains(name)) NewSlot(inner, name);
  }
  DeclareBody(body, inner);
  for (const ast::Term* head : heads) UseTermVars(*head, inner);
  if (every_key != nullptr) *key_out = CompileTerm(*every_key, inner);
  if (every_value != nullptr) *value_out = CompileTerm(*every_value, inner);
  for (const ast::Term* head : heads) compiled_heads.push_back(CompileTerm(*head, inner));
  for (const auto& expr : body) {
    nested->exprs.push_back(CompileExpr(*expr, inner));
    ++inner.current;
  }
  nested->closure.assign(inner.closure.begin(), inner.closure.end());
  std::vector<char> bound(slot_names_.size() + 1, 0);
  for (int slot : nested->closure) bound[slot] = 1;
  if (key_out != nullptr && every_key != nullptr) BindPatternVars(*key_out, bound);
  if (value_out != nullptr && every_value != nullptr) BindPatternVars(*value_out, bound);
  // Slots of enclosing scopes that this body does not read are not bound
  // from its point of view; they are never referenced either.
  bound.resize(slot_names_.size(), 0);
  Plan(*nested, bound);
  if (!error_) {
    for (const Term& head : compiled_heads) {
      VarInfo info;
      TermVars(head, false, info);
      for (int slot : info.in) {
        if (!bound[slot]) {
          Report(kRegoUnsafeVarError, heads.empty() ? Location{} : heads[0]->location,
                 "var " + DisplayName(slot_names_[slot]) + " is unsafe");
          break;
        }
      }
    }
  }
  // Nested scopes may have allocated slots while planning; reads of enclosing
  // slots propagate as closure of this scope's parent too (done in Resolve).
  return nested;
}

Expr Compiler::CompileExpr(const ast::Expr& expr, Scope& scope) {
  Expr out;
  out.location = expr.location;
  out.source = &expr;
  out.negated = expr.negated;
  switch (expr.type) {
    case ast::ExprType::kSome: out.kind = ExprKind::kSomeDecl; break;
    case ast::ExprType::kSomeIn:
      out.kind = ExprKind::kSomeIn;
      out.has_key = expr.key != nullptr;
      if (expr.key) out.lhs = CompileTerm(*expr.key, scope);
      if (expr.value) out.rhs = CompileTerm(*expr.value, scope);
      if (expr.domain) out.term = CompileTerm(*expr.domain, scope);
      break;
    case ast::ExprType::kEvery: {
      out.kind = ExprKind::kEvery;
      out.has_key = expr.key != nullptr;
      if (expr.domain) out.term = CompileTerm(*expr.domain, scope);
      std::vector<Term> no_heads;
      out.body =
          CompileNestedBody(expr.body, scope, {}, no_heads, expr.key.get(), expr.value.get(), &out.lhs, &out.rhs);
      break;
    }
    case ast::ExprType::kTerm: {
      const ast::Term& term = *expr.term;
      if (term.type == ast::TermType::kCall && (term.name == "eq" || term.name == "assign") &&
          term.operands.size() == 2) {
        out.kind = term.name == "eq" ? ExprKind::kUnify : ExprKind::kAssign;
        out.lhs = CompileTerm(*term.operands[0], scope);
        out.rhs = CompileTerm(*term.operands[1], scope);
        if (out.kind == ExprKind::kAssign && expr.negated) {
          Report(kRegoCompileError, expr.location, "cannot negate an assignment");
        }
      } else {
        out.kind = ExprKind::kTerm;
        out.term = CompileTerm(term, scope);
      }
      break;
    }
  }
  for (const ast::With& with : expr.with) {
    WithModifier modifier;
    if (with.value) modifier.value = CompileTerm(*with.value, scope);
    const ast::Term& target = *with.target;
    std::vector<std::string> names;
    if (target.type == ast::TermType::kVar) {
      names.push_back(target.name);
    } else if (target.type == ast::TermType::kRef && !target.operands.empty() &&
               target.operands[0]->type == ast::TermType::kVar) {
      names.push_back(target.operands[0]->name);
      for (size_t i = 1; i < target.operands.size(); ++i) {
        const ast::Term& element = *target.operands[i];
        if (element.type != ast::TermType::kValue || !element.value.is_string()) {
          Report(kRegoCompileError, with.location, "with target path must be constant strings");
          break;
        }
        names.push_back(element.value.as_string());
      }
    } else {
      Report(kRegoCompileError, with.location, "invalid with target");
    }
    if (names.empty()) continue;
    ResolveWithTargetAlias(names);
    if (names[0] == "input" || names[0] == "data") {
      modifier.target = names[0] == "input" ? WithModifier::Target::kInput : WithModifier::Target::kData;
      for (size_t i = 1; i < names.size(); ++i) modifier.path.push_back(Value::String(names[i]));
      if (modifier.target == WithModifier::Target::kData) {
        const RuleNode* node = FindNode(modifier.path);
        if (node != nullptr && node->has_rules && node->kind == ast::RuleKind::kFunction) {
          modifier.target = WithModifier::Target::kFunction;
          modifier.function = node;
        }
      }
    } else {
      std::string joined = names[0];
      for (size_t i = 1; i < names.size(); ++i) joined += "." + names[i];
      modifier.target = WithModifier::Target::kFunction;
      if (!ResolveFunctionName(joined, &modifier.builtin, &modifier.function)) {
        Report(kRegoCompileError, with.location, "with target " + joined + " is not a function or document");
      }
    }
    if (modifier.target == WithModifier::Target::kFunction && with.value) {
      // The replacement may itself name a function.
      const ast::Term& value = *with.value;
      std::string name;
      if (value.type == ast::TermType::kVar) {
        name = value.name;
      } else if (value.type == ast::TermType::kRef && !value.operands.empty() &&
                 value.operands[0]->type == ast::TermType::kVar) {
        name = value.operands[0]->name;
        for (size_t i = 1; i < value.operands.size(); ++i) {
          const ast::Term& element = *value.operands[i];
          if (element.type != ast::TermType::kValue || !element.value.is_string()) {
            name.clear();
            break;
          }
          name += "." + element.value.as_string();
        }
      }
      if (!name.empty()) {
        const Builtin* builtin = nullptr;
        const RuleNode* function = nullptr;
        if (ResolveFunctionName(name, &builtin, &function)) {
          modifier.mock_builtin = builtin;
          modifier.mock_function = function;
          modifier.value = Term{};
          if (function != nullptr && current_node_ != nullptr) current_node_->deps.push_back(function);
        }
      }
    }
    out.with.push_back(std::move(modifier));
  }
  return out;
}

void Compiler::ResolveWithTargetAlias(std::vector<std::string>& names) const {
  if (context_ == nullptr || names[0] == "input" || names[0] == "data") return;
  std::vector<Value> path;
  bool data = true;
  if (auto import = context_->imports.find(names[0]); import != context_->imports.end()) {
    data = import->second.first;
    path = import->second.second;
  } else if (context_->rule_names != nullptr && context_->rule_names->contains(names[0])) {
    path = context_->package;
    path.push_back(Value::String(names[0]));
  } else {
    return;
  }
  // Functions keep their name: they are mocked, not replaced as documents.
  std::vector<Value> full = path;
  for (size_t i = 1; i < names.size(); ++i) full.push_back(Value::String(names[i]));
  if (data) {
    const RuleNode* node = FindNode(full);
    if (node != nullptr && node->has_rules && node->kind == ast::RuleKind::kFunction) return;
  }
  std::vector<std::string> resolved{data ? "data" : "input"};
  for (const Value& element : path) {
    if (!element.is_string()) return;
    resolved.push_back(element.as_string());
  }
  resolved.insert(resolved.end(), names.begin() + 1, names.end());
  names = std::move(resolved);
}

void Compiler::Plan(Body& body, std::vector<char>& bound) {
  if (error_) return;
  bound.resize(slot_names_.size(), 0);
  const size_t n = body.exprs.size();
  std::vector<VarInfo> infos(n);
  std::vector<int> uses(slot_names_.size(), 0);
  for (size_t i = 0; i < n; ++i) {
    Expr& expr = body.exprs[i];
    expr.index = static_cast<int>(i);
    VarInfo& info = infos[i];
    switch (expr.kind) {
      case ExprKind::kTerm: TermVars(expr.term, false, info); break;
      case ExprKind::kUnify:
      case ExprKind::kAssign:
        TermVars(expr.lhs, true, info);
        TermVars(expr.rhs, true, info);
        break;
      case ExprKind::kSomeDecl: break;
      case ExprKind::kSomeIn:
        TermVars(expr.term, false, info);
        if (expr.has_key) TermVars(expr.lhs, true, info);
        TermVars(expr.rhs, true, info);
        break;
      case ExprKind::kEvery:
        TermVars(expr.term, false, info);
        for (int slot : expr.body->closure) info.in.push_back(slot);
        break;
    }
    for (const WithModifier& with : expr.with) TermVars(with.value, false, info);
    std::set<int> mentioned(info.in.begin(), info.in.end());
    mentioned.insert(info.out.begin(), info.out.end());
    for (int slot : mentioned) ++uses[slot];
    expr.trace_slots.assign(mentioned.begin(), mentioned.end());
  }
  // Variables of a negated expression must be bound before it, except those
  // it alone mentions (`not p[_]`), which it iterates over internally.
  for (size_t i = 0; i < n; ++i) {
    if (!body.exprs[i].negated) continue;
    VarInfo& info = infos[i];
    for (int slot : info.out) {
      if (uses[slot] > 1 || bound[slot]) info.in.push_back(slot);
    }
    info.out.clear();
  }
  std::vector<Expr> ordered;
  ordered.reserve(n);
  std::vector<char> done(n, 0);
  for (size_t step = 0; step < n; ++step) {
    size_t pick = n;
    for (size_t i = 0; i < n && pick == n; ++i) {
      if (done[i]) continue;
      const bool inputs_bound =
          std::all_of(infos[i].in.begin(), infos[i].in.end(), [&](int slot) { return bound[slot] != 0; });
      if (!inputs_bound) continue;
      const Expr& expr = body.exprs[i];
      if ((expr.kind == ExprKind::kUnify || expr.kind == ExprKind::kAssign) && !CanUnify(expr.lhs, expr.rhs, bound)) {
        continue;
      }
      pick = i;
    }
    if (pick == n) {
      for (size_t i = 0; i < n; ++i) {
        if (done[i]) continue;
        std::vector<int> unsafe;
        for (int slot : infos[i].in) {
          if (!bound[slot]) unsafe.push_back(slot);
        }
        if (unsafe.empty()) unsafe = infos[i].out;
        if (unsafe.empty()) continue;
        Report(kRegoUnsafeVarError, body.exprs[i].location,
               "var " + DisplayName(slot_names_[unsafe[0]]) + " is unsafe");
        return;
      }
      Report(kRegoUnsafeVarError, body.exprs.empty() ? Location{} : body.exprs[0].location, "unsafe expression");
      return;
    }
    done[pick] = 1;
    for (int slot : infos[pick].out) bound[slot] = 1;
    ordered.push_back(std::move(body.exprs[pick]));
  }
  body.exprs = std::move(ordered);
  for (size_t i = 0; i + 1 < body.exprs.size(); ++i) MarkFilter(body.exprs[i], body.exprs[i + 1]);
  for (Expr& expr : body.exprs) {
    switch (expr.kind) {
      case ExprKind::kTerm:
        expr.in_place[0] = ShapeOf(expr.term);
        expr.quiet_print = expr.term.kind == TermKind::kCall && expr.term.call == CallKind::kPrint && !expr.negated &&
                           expr.with.empty() &&
                           std::all_of(expr.term.operands.begin(), expr.term.operands.end(), IsLookup);
        break;
      case ExprKind::kUnify:
      case ExprKind::kAssign:
        expr.in_place[0] = ShapeOf(expr.lhs);
        expr.in_place[1] = ShapeOf(expr.rhs);
        break;
      default: break;
    }
  }
}

bool Compiler::InPlaceTerm(const Term& term, std::vector<int>& reads) {
  const auto key = [&](const Term& element) {
    if (element.kind == TermKind::kLocal) reads.push_back(element.slot);
    return element.kind == TermKind::kConst || element.kind == TermKind::kLocal;
  };
  switch (term.kind) {
    case TermKind::kConst:
    case TermKind::kInput: return true;
    case TermKind::kLocal: reads.push_back(term.slot); return true;
    case TermKind::kRef: {
      const Term& head = term.operands[0];
      size_t first = 1;
      if (head.kind == TermKind::kData) {
        if (term.rule == nullptr) return false;
        first = term.rule_next;
      } else if (head.kind != TermKind::kInput && !key(head)) {
        return false;
      }
      return std::all_of(term.operands.begin() + static_cast<std::ptrdiff_t>(first), term.operands.end(), key);
    }
    case TermKind::kArray:
      return std::all_of(term.operands.begin(), term.operands.end(),
                         [&](const Term& element) { return InPlaceTerm(element, reads); });
    case TermKind::kCall: {
      if (term.output_arg || term.operands.size() > kMaxInPlaceArgs) return false;
      switch (term.call) {
        case CallKind::kPrint: return false;
        case CallKind::kFunction:
          if (term.function == nullptr || term.function->arity != static_cast<int>(term.operands.size())) return false;
          break;
        case CallKind::kBuiltin:
          if (term.builtin == nullptr || term.builtin->relation) return false;
          break;
        default:
          if (term.operands.size() < 2) return false;
          break;
      }
      return std::all_of(term.operands.begin(), term.operands.end(),
                         [&](const Term& operand) { return InPlaceTerm(operand, reads); });
    }
    default: return false;
  }
}

bool Mentions(const Term& term, int slot) {
  if (term.kind == TermKind::kLocal && term.slot == slot) return true;
  return std::any_of(term.operands.begin(), term.operands.end(),
                     [slot](const Term& operand) { return Mentions(operand, slot); });
}

void Compiler::MarkFilter(Expr& some, const Expr& next) {
  if (some.kind != ExprKind::kSomeIn || some.has_key || some.negated || !some.with.empty() ||
      some.rhs.kind != TermKind::kLocal) {
    return;
  }
  const Term& compare = next.term;
  if (next.kind != ExprKind::kTerm || next.negated || !next.with.empty() || compare.kind != TermKind::kCall ||
      compare.call != CallKind::kEqual || compare.output_arg || compare.operands.size() != 2) {
    return;
  }
  const int slot = some.rhs.slot;
  for (int side = 0; side < 2; ++side) {
    const Term& local = compare.operands[static_cast<size_t>(side)];
    const Term& other = compare.operands[static_cast<size_t>(1 - side)];
    if (local.kind == TermKind::kLocal && local.slot == slot && IsLookup(other) && !Mentions(other, slot)) {
      some.filter_operand = 1 - side;
      return;
    }
  }
}

InPlaceShape Compiler::ShapeOf(const Term& term) {
  InPlaceShape shape;
  std::vector<int> reads;
  shape.ok = InPlaceTerm(term, reads);
  std::sort(reads.begin(), reads.end());
  reads.erase(std::unique(reads.begin(), reads.end()), reads.end());
  // Terms that read more locals than a shape holds take the general path.
  if (reads.size() > InPlaceShape::kMaxReads || (!reads.empty() && reads.back() > UINT16_MAX)) shape.ok = false;
  if (!shape.ok) return shape;
  shape.count = static_cast<uint8_t>(reads.size());
  std::copy(reads.begin(), reads.end(), shape.reads.begin());
  return shape;
}

Status Compiler::CheckRecursion() {
  const size_t n = policy_.rule_nodes.size();
  std::vector<int> state(n, 0);  // 0 new, 1 on stack, 2 done
  std::vector<const RuleNode*> stack;
  std::optional<Error> found;
  std::function<void(const RuleNode*)> visit = [&](const RuleNode* node) {
    if (found) return;
    const auto index = static_cast<size_t>(node->index);
    if (state[index] == 2) return;
    if (state[index] == 1) {
      std::string cycle;
      bool in_cycle = false;
      for (const RuleNode* member : stack) {
        if (member == node) in_cycle = true;
        if (in_cycle) cycle += member->path_text + " -> ";
      }
      cycle += node->path_text;
      Location location;
      if (!node->defs.empty()) location = node->defs[0]->location;
      found = RegoError(kRegoRecursionError, location, "rule " + node->path_text + " is recursive: " + cycle);
      return;
    }
    state[index] = 1;
    stack.push_back(node);
    for (const RuleNode* dep : node->deps) visit(dep);
    stack.pop_back();
    state[index] = 2;
  };
  for (const RuleNode* node : policy_.rule_nodes) visit(node);
  if (!found) return {};
  // OPA reports every rule on a cycle, sorted by location: name the first of
  // them in source order, with the cycle through it.
  std::map<std::string, size_t, std::less<>> module_order;
  for (const auto& module : policy_.modules) module_order.emplace(module->filename, module_order.size());
  auto position = [&](const RuleNode* node) {
    const Location& location = NodeLocation(node);
    auto it = module_order.find(location.file);
    return std::make_tuple(it == module_order.end() ? module_order.size() : it->second, location.line, location.column);
  };
  std::vector<const RuleNode*> ordered(policy_.rule_nodes.begin(), policy_.rule_nodes.end());
  std::stable_sort(ordered.begin(), ordered.end(),
                   [&](const RuleNode* a, const RuleNode* b) { return position(a) < position(b); });
  for (const RuleNode* start : ordered) {
    std::vector<const RuleNode*> path = CyclePath(start);
    if (path.empty()) continue;
    std::string cycle;
    for (const RuleNode* member : path) cycle += member->path_text + " -> ";
    cycle += start->path_text;
    return contrast::Fail(
        RegoError(kRegoRecursionError, NodeLocation(start), "rule " + start->path_text + " is recursive: " + cycle));
  }
  return contrast::Fail(*found);
}

// Whether evaluating the term or body can itself stop the evaluation with a
// conflict (object comprehension keys), or depends on `with`, which replaces
// functions and data behind the dependency graph's back.
bool MayStop(const Body& body);

bool MayStop(const Term& term) {
  if (term.kind == TermKind::kObjectCompr) return true;
  if (term.body && MayStop(*term.body)) return true;
  return std::any_of(term.operands.begin(), term.operands.end(), [](const Term& t) { return MayStop(t); });
}

bool MayStop(const Body& body) {
  return std::any_of(body.exprs.begin(), body.exprs.end(), [](const Expr& expr) {
    return !expr.with.empty() || MayStop(expr.term) || MayStop(expr.lhs) || MayStop(expr.rhs) ||
           (expr.body && MayStop(*expr.body));
  });
}

bool MayStop(const RuleDef& def) {
  for (const RuleDef* link = &def; link != nullptr; link = link->else_rule.get()) {
    if (MayStop(link->body) || MayStop(link->value) || MayStop(link->key) ||
        std::any_of(link->args.begin(), link->args.end(), [](const Term& t) { return MayStop(t); }) ||
        std::any_of(link->key_path.begin(), link->key_path.end(), [](const Term& t) { return MayStop(t); })) {
      return true;
    }
  }
  return false;
}

// Every definition, and every `else` of one, gives the same constant.
bool SameConstantEverywhere(const RuleNode& node) {
  if (node.defs.empty()) return false;
  const Term& first = node.defs[0]->value;
  if (first.kind != TermKind::kConst) return false;
  for (const auto& def : node.defs) {
    for (const RuleDef* link = def.get(); link != nullptr; link = link->else_rule.get()) {
      if (link->value.kind != TermKind::kConst || link->value.value != first.value) return false;
    }
  }
  return true;
}

void Compiler::MarkEarlyExits() {
  // may_stop[i]: evaluating rule node i can end in a conflict error, itself
  // or through a rule it uses. Builtin errors do not count: with strict
  // builtin errors the evaluator never exits early.
  std::vector<char> may_stop(policy_.rule_nodes.size(), 0);
  std::vector<char> done(policy_.rule_nodes.size(), 0);
  std::function<bool(const RuleNode*)> visit = [&](const RuleNode* node) -> bool {
    const auto index = static_cast<size_t>(node->index);
    if (done[index]) return may_stop[index] != 0;
    done[index] = 1;
    // Only complete rules and functions have one value that early exit can
    // keep; partial sets cannot conflict, partial objects and general rules
    // can (two values for one key).
    const bool value_rule =
        !node->general && (node->kind == ast::RuleKind::kComplete || node->kind == ast::RuleKind::kFunction);
    const bool constant = value_rule && SameConstantEverywhere(*node);
    bool stops = value_rule ? !constant : node->general || node->kind != ast::RuleKind::kPartialSet;
    for (const auto& def : node->defs) stops = stops || MayStop(*def);
    if (node->default_def) stops = stops || MayStop(*node->default_def);
    // Visit every dependency (not only until the first that stops) so that
    // each node is marked before its own early exit is decided.
    bool deps_stop = false;
    for (const RuleNode* dep : node->deps) deps_stop = visit(dep) || deps_stop;
    auto* mutable_node = const_cast<RuleNode*>(node);
    mutable_node->early_exit = constant && !stops && !deps_stop;
    may_stop[index] = (stops || deps_stop) ? 1 : 0;
    return may_stop[index] != 0;
  };
  for (const RuleNode* node : policy_.rule_nodes) visit(node);
}

Location Compiler::NodeLocation(const RuleNode* node) {
  if (!node->defs.empty()) return node->defs[0]->location;
  if (node->default_def) return node->default_def->location;
  return {};
}

std::vector<const RuleNode*> Compiler::CyclePath(const RuleNode* start) const {
  std::vector<char> seen(policy_.rule_nodes.size(), 0);
  std::vector<const RuleNode*> path;
  std::function<bool(const RuleNode*)> reaches = [&](const RuleNode* node) {
    path.push_back(node);
    for (const RuleNode* dep : node->deps) {
      if (dep == start) return true;
      const auto index = static_cast<size_t>(dep->index);
      if (seen[index]) continue;
      seen[index] = 1;
      if (reaches(dep)) return true;
    }
    path.pop_back();
    return false;
  };
  reaches(start);
  return path;
}

}  // namespace

Result<std::shared_ptr<const Policy>> CompilePolicy(std::vector<std::shared_ptr<const ast::Module>> modules,
                                                    const BuiltinRegistry& builtins) {
  static std::atomic<uint64_t> generations{0};
  auto policy = std::make_shared<Policy>();
  policy->modules = std::move(modules);
  policy->generation = ++generations;
  Compiler compiler(*policy, builtins);
  if (auto built = compiler.BuildTree(); !built) return contrast::Fail(built.error());
  if (auto compiled = compiler.CompileRules(); !compiled) return contrast::Fail(compiled.error());
  if (auto checked = compiler.CheckRecursion(); !checked) return contrast::Fail(checked.error());
  compiler.MarkEarlyExits();
  return std::shared_ptr<const Policy>(std::move(policy));
}

Result<std::unique_ptr<Query>> CompileQuery(const Policy& policy, const ast::Body& body,
                                            const BuiltinRegistry& builtins) {
  Compiler compiler(const_cast<Policy&>(policy), builtins);
  return compiler.CompileQueryBody(body);
}

namespace {

Result<std::unique_ptr<Query>> Compiler::CompileQueryBody(const ast::Body& body) {
  auto query = std::make_unique<Query>();
  compiling_query_ = true;
  context_ = nullptr;
  current_node_ = nullptr;
  slot_names_.clear();
  Scope scope;
  DeclareBody(body, scope);
  for (const auto& expr : body) {
    query->body.exprs.push_back(CompileExpr(*expr, scope));
    ++scope.current;
  }
  std::vector<char> bound(slot_names_.size(), 0);
  Plan(query->body, bound);
  if (error_) return contrast::Fail(*error_);
  query->expr_count = body.size();
  query->frame_size = static_cast<int>(slot_names_.size());
  query->slot_names = slot_names_;
  for (const auto& [name, slot] : scope.vars) {
    if (IsGeneratedName(name) || name.starts_with("_")) continue;
    query->user_vars.emplace_back(name, slot);
  }
  return query;
}

}  // namespace

bool IsLookup(const Term& term) {
  switch (term.kind) {
    case TermKind::kConst:
    case TermKind::kLocal:
    case TermKind::kInput: return true;
    case TermKind::kRef: {
      const TermKind head = term.operands[0].kind;
      if (head != TermKind::kLocal && head != TermKind::kInput) return false;
      return std::all_of(term.operands.begin() + 1, term.operands.end(),
                         [](const Term& element) { return element.kind == TermKind::kConst; });
    }
    default: return false;
  }
}

}  // namespace contrast::policy::rego::ir
