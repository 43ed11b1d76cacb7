// The syntax tree of Rego modules and queries, as the parser produces it and
// the compiler and evaluator consume it. Nodes are immutable after parsing
// and shared (shared_ptr<const ...>), so a compiled policy can be read by many
// evaluations at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "policy/rego/engine.h"
#include "policy/rego/errors.h"
#include "policy/rego/value.h"

namespace contrast::policy::rego::ast {

struct Term;
struct Expr;
using TermPtr = std::shared_ptr<const Term>;
using ExprPtr = std::shared_ptr<const Expr>;
using Body = std::vector<ExprPtr>;  // a query or rule body: expressions joined by AND

enum class TermType {
  kValue,                // scalar literal (null, boolean, number, string): `value`
  kVar,                  // variable `name`; `input` and `data` are vars too. Each `_` gets a
                         // unique generated name ("_$1", "_$2", ...) so wildcards never unify.
  kRef,                  // reference: operands[0] is the head (a kVar, or any other term such as
                         // an array, object, call or comprehension), operands[1..] the path:
                         // `a.b` has a kValue string "b", `a[x]` the term x.
  kArray,                // operands: the elements
  kSet,                  // operands: the elements (`set()` is an empty kSet)
  kObject,               // operands: key0, value0, key1, value1, ...
  kArrayComprehension,   // [operands[0] | body]
  kSetComprehension,     // {operands[0] | body}
  kObjectComprehension,  // {operands[0]: operands[1] | body}
  kCall,                 // a call: `name` is the function as written, dotted ("count",
                         // "regex.match", "data.lib.f", "lib.f"); operands are the arguments.
                         // Operators are calls with OPA's builtin names: `=` eq, `:=` assign,
                         // `==` equal, `!=` neq, `<` lt, `<=` lte, `>` gt, `>=` gte, `+` plus,
                         // `-` minus, `*` mul, `/` div, `%` rem, `&` and, `|` or,
                         // `x in xs` internal.member_2, `k, v in xs` internal.member_3.
                         // Unary minus on a non-literal `-x` is minus(0, x). A template
                         // string `$"a{x}"` is internal.template_string(["a", {t | t = x}]):
                         // each embedded expression becomes a one-element set comprehension
                         // (empty when undefined); scalar literals stay as they are.
};

struct Term {
  TermType type = TermType::kValue;
  Location location;
  Value value;                    // kValue
  std::string name;               // kVar, kCall
  std::vector<TermPtr> operands;  // see TermType
  Body body;                      // comprehensions
  // kCall of a function written as a reference: its segments as written
  // (`data.p.f["a.b"](x)` -> ["data", "p", "f", "a.b"]); empty for operators
  // and calls the parser generates. `name` joins the segments with dots when
  // each is an identifier, and is in ref syntax otherwise (`data.p.f["a.b"]`),
  // so a dotted split of `name` never names a different function.
  std::vector<std::string> name_segments;
};

// `with TARGET as VALUE`: TARGET is a ref rooted at input or data, or a
// function/builtin name (a kVar or kRef term).
struct With {
  TermPtr target;
  TermPtr value;
  Location location;
};

enum class ExprType {
  kTerm,    // `term`: a call (including operators) or any other term, true when
            // defined and not false
  kSome,    // `some x, y`: declares `vars` as local (no iteration by itself)
  kSomeIn,  // `some value in domain` / `some key, value in domain`
  kEvery,   // `every value in domain { body }` / `every key, value in domain { body }`
};

struct Expr {
  ExprType type = ExprType::kTerm;
  Location location;
  std::string text;               // the expression's source text, for traces and explain
  bool negated = false;           // `not ...` (kTerm only)
  TermPtr term;                   // kTerm
  std::vector<std::string> vars;  // kSome
  TermPtr key;                    // kSomeIn/kEvery: nullptr when only a value is given
  TermPtr value;                  // kSomeIn/kEvery: the element (may be a pattern such as [a, b])
  TermPtr domain;                 // kSomeIn/kEvery
  Body body;                      // kEvery
  std::vector<With> with;         // modifiers of this expression
};

enum class RuleKind {
  kComplete,       // `p := v if {...}`, `p if {...}`, `p = v {...}`, `default p := v`
  kPartialSet,     // `p contains x if {...}`, v0 `p[x] {...}`
  kPartialObject,  // `p[k] := v if {...}`, v0 `p[k] = v {...}`
  kFunction,       // `f(a, b) := v if {...}`, `f(x) if {...}`
};

struct Rule {
  Location location;
  RuleKind kind = RuleKind::kComplete;
  bool is_default = false;
  // The rule's name as a path below the package: ["p"] for `p`, ["a", "b"]
  // for the ref head `a.b := 1` (v1). Elements are string terms except the
  // last for ref heads with variables (`a.b[x] := y` is a partial object
  // with path ["a", "b"] and key x), or, in general reference heads, any
  // element (`a[x].b contains y` has path [a, x, b]; not for functions).
  std::vector<TermPtr> path;
  std::vector<TermPtr> args;  // kFunction: the parameters (terms; may be patterns)
  TermPtr key;                // kPartialSet: the element; kPartialObject: the key
  TermPtr value;              // kComplete, kPartialObject, kFunction: the value
                              // (a `true` literal when the head gives none)
  bool assign = false;        // head used `:=` (a redefinition is an error)
  Body body;                  // empty: always true
  // `else [= v] [if] { ... }`: tried in order when this body is undefined.
  // Else rules share kind, path and args with this rule; their value
  // defaults to true.
  std::shared_ptr<const Rule> else_rule;
  std::string head_text;  // the head's source text, for traces and explain
};

struct Import {
  Location location;
  std::vector<std::string> path;  // ["data", "lib", "x"], ["input"], ["future", "keywords", "in"], ["rego", "v1"]
  std::string alias;              // `as alias`; empty when none
};

struct Module {
  std::string filename;
  RegoVersion version = RegoVersion::kV1;
  Location location;
  std::vector<std::string> package;  // `package a.b` -> ["a", "b"] (without "data")
  std::vector<Import> imports;
  std::vector<std::shared_ptr<const Rule>> rules;
};

// Bounds for the parser, so hostile text cannot exhaust memory or the stack.
struct ParseLimits {
  size_t max_bytes = 64 * 1024 * 1024;
  size_t max_line_length = 1024 * 1024;
  size_t max_nesting = 512;  // nested terms, bodies and comprehensions
};

// Parses a module. Errors are rego_parse_error with file, line and column.
// In kV0, the keywords `in`, `every`, `if` and `contains` are recognised only
// after `import future.keywords[.kw]` or `import rego.v1`.
Result<Module> ParseModule(std::string_view filename, std::string_view source, RegoVersion version,
                           const ParseLimits& limits = {});

// Parses a query (`data.p.q = x; x > 1`, expressions separated by `;` or
// newlines). All keywords are available in queries.
Result<Body> ParseQuery(std::string_view query, const ParseLimits& limits = {});

// Rego source text of a term, in OPA's formatting (`data.a.b[x]`, `{1, 2}`),
// for messages and traces.
std::string ToString(const Term& term);

}  // namespace contrast::policy::rego::ast
