// The compiler turns parsed modules into the form the evaluator runs: a tree
// of rules under `data`, bodies whose variables are frame slots, expressions
// reordered so that every variable is bound before it is read (Rego bodies are
// declarative), and names resolved to rules, imports, builtins or locals.
//
// The compiled policy is immutable and shared by all evaluations.
#pragma once

#include <array>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "policy/rego/ast.h"
#include "policy/rego/builtins.h"
#include "policy/rego/errors.h"
#include "policy/rego/value.h"

namespace contrast::policy::rego::ir {

struct Body;
struct RuleNode;

enum class TermKind : uint8_t {
  kConst,        // `value` (also composite literals without variables)
  kLocal,        // frame slot `slot`
  kInput,        // the input document
  kRef,          // operands[0] the head (kData, kInput, or any term), operands[1..] the path
  kData,         // the data document (only as a ref head)
  kArray,        // operands: elements
  kSet,          // operands: elements
  kObject,       // operands: key0, value0, key1, value1, ...
  kArrayCompr,   // [operands[0] | body]
  kSetCompr,     // {operands[0] | body}
  kObjectCompr,  // {operands[0]: operands[1] | body}
  kCall,         // see CallKind; operands are the arguments
};

enum class CallKind : uint8_t {
  kBuiltin,   // `builtin`
  kFunction,  // user function `function`
  kPrint,
  kEqual,
  kNotEqual,
  kLess,
  kLessEqual,
  kGreater,
  kGreaterEqual,
  kMember2,  // x in xs
  kMember3,  // k, v in xs
};

// Terms and expressions are laid out compactly: an evaluation walks many of
// them once each, so their size is much of what it reads from memory.
struct Term {
  TermKind kind = TermKind::kConst;
  CallKind call = CallKind::kBuiltin;
  // kCall: the last operand is an output to unify with the result
  // (`count(xs, n)`), not an argument.
  bool output_arg = false;
  int slot = -1;
  // Such a reference of a policy's rule (see `rule`) whose remaining
  // operands are constants too: where it leads is the same all through an
  // evaluation, so the evaluator keeps it at this index
  // (Policy::path_cache_size); -1 when not.
  int path_cache = -1;
  // kRef with a kData head whose constant prefix operands[1..rule_next) names
  // a rule (not a function): evaluation can start there instead of walking
  // the rule tree from the root (when no `with` hides rules).
  uint32_t rule_next = 0;
  const RuleNode* rule = nullptr;
  Value value;
  std::vector<Term> operands;
  std::shared_ptr<const Body> body;  // comprehensions
  const Builtin* builtin = nullptr;
  const RuleNode* function = nullptr;
};

enum class ExprKind : uint8_t {
  kTerm,      // `term`
  kUnify,     // lhs = rhs
  kAssign,    // lhs := rhs
  kSomeDecl,  // some x (nothing to evaluate)
  kSomeIn,    // some [key,] value in domain
  kEvery,     // every [key,] value in domain { body }
};

struct WithModifier {
  enum class Target : uint8_t { kInput, kData, kFunction };
  Target target = Target::kInput;
  std::vector<Value> path;  // below input / data
  Term value;
  // kFunction: what is replaced, and the replacement when it is a function
  // (otherwise `value` is returned by every call).
  const Builtin* builtin = nullptr;
  const RuleNode* function = nullptr;
  const Builtin* mock_builtin = nullptr;
  const RuleNode* mock_function = nullptr;
};

// Calls with at most this many arguments can be evaluated in place.
inline constexpr size_t kMaxInPlaceArgs = 4;

// A term the evaluator can evaluate in place, without backtracking, once the
// local slots in `reads` are bound (and no `with` replaces functions or
// hides rules): constants, locals, `input`, references from `input`, a
// local or a rule through constant keys or locals, arrays of such terms, and
// calls of operators, builtins (not relations) and functions on them.
struct InPlaceShape {
  static constexpr size_t kMaxReads = 7;
  bool ok = false;
  uint8_t count = 0;                           // reads in use
  std::array<uint16_t, kMaxReads> reads = {};  // the slots, sorted
};

struct Expr {
  ExprKind kind = ExprKind::kTerm;
  bool negated = false;
  bool has_key = false;              // kSomeIn, kEvery
  int index = 0;                     // position in the source body
  Term term;                         // kTerm; kSomeIn, kEvery: the domain
  Term lhs, rhs;                     // kUnify, kAssign; kSomeIn/kEvery: key (lhs) and value (rhs)
  std::shared_ptr<const Body> body;  // kEvery
  std::vector<WithModifier> with;
  Location location;
  const ast::Expr* source = nullptr;
  std::vector<int> trace_slots;  // the slots the expression mentions (for traces)
  // kTerm: [0] is the term; kUnify and kAssign: [0] lhs, [1] rhs.
  std::array<InPlaceShape, 2> in_place;
  // kSomeIn binding a local whose next expression is `local == t`, t a
  // constant or a reference through constant keys into a local or the input
  // (no side effects): the index of t in that comparison's operands, so the
  // evaluator compares each element with t itself and continues only with
  // the equal ones. -1 otherwise.
  int filter_operand = -1;
  // `print` of lookups only (no `with`): evaluating it can neither fail nor
  // have an effect other than the print, so without prints it is skipped.
  bool quiet_print = false;
};

struct Body {
  std::vector<Expr> exprs;   // in evaluation order
  std::vector<int> closure;  // slots of enclosing scopes this body reads
};

struct RuleDef {
  const ast::Rule* source = nullptr;
  Location location;
  int body_index = 0;
  int frame_size = 0;
  std::vector<std::string> slot_names;
  std::vector<Term> args;  // function parameters (patterns)
  // Every parameter is a plain name (no constants or composite patterns):
  // arguments bind without unification.
  bool plain_params = true;
  // A function body whose first expression, after prints of lookups only,
  // compares two lookups of the arguments, the input or constants
  // (`p_mount.destination == i_mount.destination`): the evaluator can tell
  // from the arguments alone that the body fails there, before it sets up a
  // frame (clause indexing). The index of that expression in body.exprs, -1
  // when there is none; for each operand, the parameter its reference
  // starts from (-1: a constant or the input); whether prints come first.
  int guard = -1;
  std::array<int8_t, 2> guard_params = {-1, -1};
  bool guard_after_prints = false;
  // General reference heads (`a[x].b contains y`): the head's path elements
  // below the rule's node, evaluated for each solution of the body.
  std::vector<Term> key_path;
  bool has_key = false;
  Term key;    // partial set element / partial object key
  Term value;  // complete, object and function value
  Body body;
  std::unique_ptr<RuleDef> else_rule;
};

struct RuleNode {
  Value key;              // this node's name below its parent
  std::string path_text;  // "data.a.b"
  std::map<Value, std::unique_ptr<RuleNode>> children;
  bool has_rules = false;
  // The rules here have variables in their reference heads: the node's
  // value is an object built from every solution of every definition (each
  // definition's own kind says what goes at the end of its path).
  bool general = false;
  ast::RuleKind kind = ast::RuleKind::kComplete;
  int arity = 0;  // kFunction
  std::vector<std::unique_ptr<RuleDef>> defs;
  std::unique_ptr<RuleDef> default_def;
  // Every definition gives the same constant value, and nothing this rule
  // evaluates can stop the evaluation with an error (a conflict): once one
  // body succeeds, the rest cannot change the result. The evaluator stops
  // there only when nobody reads the prints (see eval.cpp).
  bool early_exit = false;
  int index = -1;  // into the per-evaluation rule cache
  std::vector<const RuleNode*> deps;

  const RuleNode* Child(const Value& name) const {
    auto it = children.find(name);
    return it == children.end() ? nullptr : it->second.get();
  }
};

struct Policy {
  std::vector<std::shared_ptr<const ast::Module>> modules;
  std::unique_ptr<RuleNode> root;
  std::vector<const RuleNode*> rule_nodes;  // by RuleNode::index
  int path_cache_size = 0;                  // Term::path_cache indices in use
  // Unique to this compilation in the process (never reused): what the
  // evaluator remembers about this policy's builtins is filed under it.
  uint64_t generation = 0;
};

struct Query {
  Body body;
  int frame_size = 0;
  size_t expr_count = 0;
  std::vector<std::string> slot_names;
  std::vector<std::pair<std::string, int>> user_vars;  // reported in result rows
};

// A constant, a local, the input, or a reference through constant keys into
// a local or the input: evaluating it can neither fail nor have effects.
bool IsLookup(const Term& term);

// Builds the rule tree and compiles every rule. Errors carry OPA's codes:
// rego_type_error (conflicting rule kinds, arity, undefined functions),
// rego_compile_error, rego_unsafe_var_error, rego_recursion_error.
Result<std::shared_ptr<const Policy>> CompilePolicy(std::vector<std::shared_ptr<const ast::Module>> modules,
                                                    const BuiltinRegistry& builtins);

// Compiles a query against a compiled policy (which it must not outlive).
Result<std::unique_ptr<Query>> CompileQuery(const Policy& policy, const ast::Body& query,
                                            const BuiltinRegistry& builtins);

}  // namespace contrast::policy::rego::ir
