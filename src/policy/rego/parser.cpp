// Recursive-descent parser for Rego v0 and v1 modules and queries.
//
// Errors unwind through the parser as a private exception (ParseFailure) and
// are turned into a Result at the two entry points; recursion is bounded by
// ParseLimits::max_nesting, so hostile text cannot exhaust the stack.
#include <algorithm>
#include <array>
#include <new>
#include <optional>
#include <utility>

#include "policy/rego/ast.h"
#include "policy/rego/lexer.h"

namespace contrast::policy::rego::ast {
namespace {

using lexer::Token;
using lexer::TokenKind;

struct ParseFailure {
  contrast::Error error;
  size_t token_index = 0;  // where it happened, to report the furthest of two attempts
};

// Failed attempts the parser may undo per rule or query. Undoing re-parses
// text, so the budget keeps hostile nesting from costing exponential time.
constexpr int kBacktrackBudget = 64;

// Words that are never variables, in every version.
constexpr std::array<std::string_view, 8> kReserved = {"not",     "some", "with",   "as",
                                                       "default", "else", "import", "package"};

bool IsReservedWord(std::string_view word) {
  return std::find(kReserved.begin(), kReserved.end(), word) != kReserved.end();
}

struct BinaryOperator {
  TokenKind kind;
  std::string_view builtin;
  std::string_view symbol;
};

constexpr std::array<BinaryOperator, 15> kOperators = {{
    {TokenKind::kEqual, "equal", "=="},
    {TokenKind::kNotEqual, "neq", "!="},
    {TokenKind::kLess, "lt", "<"},
    {TokenKind::kLessEqual, "lte", "<="},
    {TokenKind::kGreater, "gt", ">"},
    {TokenKind::kGreaterEqual, "gte", ">="},
    {TokenKind::kPipe, "or", "|"},
    {TokenKind::kAmpersand, "and", "&"},
    {TokenKind::kPlus, "plus", "+"},
    {TokenKind::kMinus, "minus", "-"},
    {TokenKind::kStar, "mul", "*"},
    {TokenKind::kSlash, "div", "/"},
    {TokenKind::kPercent, "rem", "%"},
    {TokenKind::kUnify, "eq", "="},
    {TokenKind::kAssign, "assign", ":="},
}};

std::string_view BuiltinFor(TokenKind kind) {
  for (const auto& op : kOperators) {
    if (op.kind == kind) return op.builtin;
  }
  return {};
}

std::string_view SymbolFor(std::string_view builtin) {
  for (const auto& op : kOperators) {
    if (op.builtin == builtin) return op.symbol;
  }
  return {};
}

bool IsIdentifier(std::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

TermPtr Finish(Term term) { return std::make_shared<const Term>(std::move(term)); }

class Parser {
 public:
  Parser(std::string_view filename, std::string_view source, std::vector<Token> tokens, const ParseLimits& limits)
      : filename_(filename), source_(source), tokens_(std::move(tokens)), limits_(limits) {}

  Module ParseModule(RegoVersion version) {
    const bool v1 = version == RegoVersion::kV1;
    kw_in_ = kw_every_ = kw_if_ = kw_contains_ = v1;
    v1_rules_ = v1;
    Module module;
    module.filename = std::string(filename_);
    module.version = version;
    const Token& first = Cur();
    if (first.kind == TokenKind::kEof) Fail(first, "empty module");
    if (!IsWord(first, "package")) Fail(first, "package expected");
    module.location = Loc(first);
    Advance();
    module.package = ParseDottedPath("package");
    while (!At(TokenKind::kEof)) {
      const Token& token = Cur();
      if (IsWord(token, "import")) {
        module.imports.push_back(ParseImport());
      } else if (IsWord(token, "package")) {
        Fail(token, "unexpected package keyword: a module has one package declaration, at the top");
      } else {
        backtracks_left_ = kBacktrackBudget;
        ParseRule(module.rules);
      }
    }
    return module;
  }

  Body ParseQuery() {
    kw_in_ = kw_every_ = kw_if_ = kw_contains_ = true;
    v1_rules_ = true;
    if (At(TokenKind::kEof)) Fail(Cur(), "empty query");
    backtracks_left_ = kBacktrackBudget;
    return ParseBodyUntil(TokenKind::kEof);
  }

 private:
  // Bounds recursion; every recursive path goes through one of these.
  class DepthGuard {
   public:
    explicit DepthGuard(Parser& parser) : parser_(parser) {
      if (++parser_.depth_ > parser_.limits_.max_nesting) {
        parser_.Fail(parser_.Cur(), "nesting is deeper than " + std::to_string(parser_.limits_.max_nesting));
      }
    }
    ~DepthGuard() { --parser_.depth_; }
    DepthGuard(const DepthGuard&) = delete;
    DepthGuard& operator=(const DepthGuard&) = delete;

   private:
    Parser& parser_;
  };

  // Newlines separate expressions in bodies but not inside brackets, braces
  // of literals and parentheses.
  class NewlineScope {
   public:
    NewlineScope(Parser& parser, bool significant) : parser_(parser), saved_(parser.newline_significant_) {
      parser_.newline_significant_ = significant;
    }
    ~NewlineScope() { parser_.newline_significant_ = saved_; }
    NewlineScope(const NewlineScope&) = delete;
    NewlineScope& operator=(const NewlineScope&) = delete;

   private:
    Parser& parser_;
    bool saved_;
  };

  // ---- tokens --------------------------------------------------------------

  const Token& Cur() const { return tokens_[pos_]; }
  const Token& Peek(size_t ahead) const { return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)]; }
  bool At(TokenKind kind) const { return Cur().kind == kind; }

  const Token& Advance() {
    const Token& token = tokens_[pos_];
    prev_end_ = token.end;
    if (pos_ + 1 < tokens_.size()) ++pos_;
    return token;
  }

  // True when the current token may continue the expression before it: in a
  // body, a newline ends the expression.
  bool Continues() const { return !(newline_significant_ && Cur().newline_before); }

  static bool IsWord(const Token& token, std::string_view word) {
    return token.kind == TokenKind::kIdent && token.text == word;
  }

  // The future keywords, when active in this module.
  bool IsKeyword(const Token& token, std::string_view word) const {
    if (!IsWord(token, word)) return false;
    if (word == "in") return kw_in_;
    if (word == "every") return kw_every_;
    if (word == "if") return kw_if_;
    if (word == "contains") return kw_contains_;
    return IsReservedWord(word);
  }

  // Keywords that cannot stand where a term is expected.
  bool IsNonTermKeyword(const Token& token) const {
    if (token.kind != TokenKind::kIdent) return false;
    return IsReservedWord(token.text) || IsKeyword(token, "in") || IsKeyword(token, "every") || IsKeyword(token, "if");
  }

  Location Loc(const Token& token) const { return Location{std::string(filename_), token.line, token.column}; }

  [[noreturn]] void Fail(const Token& at, std::string_view text) const {
    throw ParseFailure{RegoError(kRegoParseError, Loc(at), text), static_cast<size_t>(&at - tokens_.data())};
  }

  // ---- backtracking --------------------------------------------------------

  struct Snapshot {
    size_t pos;
    size_t prev_end;
    int wildcards;
  };
  Snapshot Save() const { return Snapshot{pos_, prev_end_, wildcards_}; }
  void Restore(const Snapshot& snapshot) {
    pos_ = snapshot.pos;
    prev_end_ = snapshot.prev_end;
    wildcards_ = snapshot.wildcards;
  }

  // Runs `attempt`; when it fails, undoes what it consumed and returns the
  // failure. Once the budget is spent, failures propagate directly.
  template <typename Attempt>
  std::optional<ParseFailure> TryParse(Attempt attempt) {
    if (backtracks_left_ <= 0) {
      attempt();
      return std::nullopt;
    }
    const Snapshot snapshot = Save();
    try {
      attempt();
      return std::nullopt;
    } catch (const ParseFailure& failure) {
      --backtracks_left_;
      Restore(snapshot);
      return failure;
    }
  }

  // Runs the second reading after `first` failed; if it fails too, reports
  // whichever error got further into the text.
  template <typename Alternative>
  auto Otherwise(const ParseFailure& first, Alternative alternative) -> decltype(alternative()) {
    try {
      return alternative();
    } catch (const ParseFailure& second) {
      if (second.token_index > first.token_index) throw;
      throw first;
    }
  }

  std::string Describe(const Token& token) const {
    switch (token.kind) {
      case TokenKind::kEof: return "eof token";
      case TokenKind::kString: return "string token";
      case TokenKind::kNumber: return "number token";
      case TokenKind::kIdent:
        if (IsReservedWord(token.text) || IsKeyword(token, "in") || IsKeyword(token, "every") ||
            IsKeyword(token, "if") || IsKeyword(token, "contains")) {
          return std::string(token.text) + " keyword";
        }
        return "ident '" + std::string(token.text.substr(0, 64)) + "'";
      case TokenKind::kTemplateFull:
      case TokenKind::kTemplateHead: return "template string token";
      case TokenKind::kTemplateMiddle:
      case TokenKind::kTemplateTail: return "'}' token";
      default: return "'" + std::string(token.text) + "' token";
    }
  }

  [[noreturn]] void Unexpected(const Token& token, std::string_view hint = {}) const {
    std::string text = "unexpected " + Describe(token);
    if (!hint.empty()) text += std::string(": ") + std::string(hint);
    Fail(token, text);
  }

  const Token& Expect(TokenKind kind, std::string_view what) {
    if (!At(kind)) Unexpected(Cur(), std::string("expected ") + std::string(what));
    return Advance();
  }

  // A name that can be a variable or rule name.
  const Token& ExpectVarName() {
    const Token& token = Cur();
    if (token.kind != TokenKind::kIdent || IsNonTermKeyword(token) || token.text == "true" || token.text == "false" ||
        token.text == "null") {
      Unexpected(token, "expected ident");
    }
    return Advance();
  }

  std::string_view SourceSince(const Token& start) const {
    if (prev_end_ < start.begin) return {};
    return source_.substr(start.begin, prev_end_ - start.begin);
  }

  // ---- term constructors ---------------------------------------------------

  TermPtr MakeString(const Location& location, std::string s) const {
    Term term;
    term.type = TermType::kValue;
    term.location = location;
    term.value = Value::String(std::move(s));
    return Finish(std::move(term));
  }

  TermPtr MakeValue(const Location& location, Value value) const {
    Term term;
    term.type = TermType::kValue;
    term.location = location;
    term.value = std::move(value);
    return Finish(std::move(term));
  }

  TermPtr MakeVar(const Location& location, std::string name) const {
    Term term;
    term.type = TermType::kVar;
    term.location = location;
    term.name = std::move(name);
    return Finish(std::move(term));
  }

  TermPtr MakeCall(const Location& location, std::string_view name, std::vector<TermPtr> operands) const {
    Term term;
    term.type = TermType::kCall;
    term.location = location;
    term.name = std::string(name);
    term.operands = std::move(operands);
    return Finish(std::move(term));
  }

  TermPtr MakeWildcard(const Location& location) { return MakeVar(location, "_$" + std::to_string(++wildcards_)); }

  // ---- module level --------------------------------------------------------

  // `a.b["c"]`, for package and import paths.
  std::vector<std::string> ParseDottedPath(std::string_view what) {
    std::vector<std::string> path;
    const Token& first = Cur();
    if (first.kind != TokenKind::kIdent) Unexpected(first, "expected " + std::string(what) + " path");
    path.emplace_back(Advance().text);
    for (;;) {
      if (At(TokenKind::kDot) && !Cur().newline_before) {
        Advance();
        if (!At(TokenKind::kIdent)) Unexpected(Cur(), "expected ident");
        path.emplace_back(Advance().text);
      } else if (At(TokenKind::kLBracket) && !Cur().newline_before) {
        Advance();
        if (!At(TokenKind::kString)) Unexpected(Cur(), "expected string in " + std::string(what) + " path");
        path.push_back(Advance().value);
        Expect(TokenKind::kRBracket, "']'");
      } else {
        return path;
      }
    }
  }

  Import ParseImport() {
    const Token& import_token = Advance();
    Import import;
    import.location = Loc(import_token);
    const Token& path_token = Cur();
    import.path = ParseDottedPath("import");
    const std::string& root = import.path.front();
    if (root == "future") {
      if (import.path.size() < 2 || import.path[1] != "keywords" || import.path.size() > 3) {
        Fail(path_token, "invalid import: expected future.keywords or future.keywords.<keyword>");
      }
      const std::string keyword = import.path.size() == 3 ? import.path[2] : "";
      if (keyword.empty() || keyword == "in") kw_in_ = true;
      if (keyword.empty() || keyword == "every") kw_every_ = kw_in_ = true;  // every needs in
      if (keyword.empty() || keyword == "if") kw_if_ = true;
      if (keyword.empty() || keyword == "contains") kw_contains_ = true;
      if (!keyword.empty() && keyword != "in" && keyword != "every" && keyword != "if" && keyword != "contains" &&
          keyword != "not") {
        Fail(path_token, "invalid import: unknown future keyword '" + keyword + "'");
      }
    } else if (root == "rego") {
      if (import.path.size() != 2 || (import.path[1] != "v1" && import.path[1] != "v2")) {
        Fail(path_token, "invalid import: only rego.v1 and rego.v2 are supported");
      }
      kw_in_ = kw_every_ = kw_if_ = kw_contains_ = true;
      v1_rules_ = true;
      // v2 adds `not { body }`; before it, `not {` negated a set or object.
      if (import.path[1] == "v2") not_body_ = true;
    } else if (root != "data" && root != "input") {
      Fail(path_token, "invalid import path: must begin with input, data, future or rego");
    }
    if (IsWord(Cur(), "as") && !Cur().newline_before) {
      const Token& as_token = Advance();
      if (root == "future" || root == "rego") Fail(as_token, "invalid import: keyword imports cannot be aliased");
      import.alias = std::string(ExpectVarName().text);
    }
    return import;
  }

  struct HeadElement {
    TermPtr term;
    bool bracketed = false;
  };

  static bool IsStringTerm(const TermPtr& term) { return term->type == TermType::kValue && term->value.is_string(); }

  void ParseRule(std::vector<std::shared_ptr<const Rule>>& rules) {
    const Token& start = Cur();
    auto rule = std::make_shared<Rule>();
    rule->location = Loc(start);
    if (IsWord(start, "default")) {
      rule->is_default = true;
      Advance();
    }
    const Token& name = ExpectVarName();
    std::vector<HeadElement> head;
    head.push_back({MakeString(Loc(name), std::string(name.text)), false});
    for (;;) {
      if (At(TokenKind::kDot) && !Cur().newline_before) {
        Advance();
        if (!At(TokenKind::kIdent)) Unexpected(Cur(), "expected ident");
        const Token& part = Advance();
        head.push_back({MakeString(Loc(part), std::string(part.text)), false});
      } else if (At(TokenKind::kLBracket) && !Cur().newline_before) {
        Advance();
        NewlineScope scope(*this, false);
        head.push_back({ParseMembership(false, true), true});
        Expect(TokenKind::kRBracket, "']'");
      } else {
        break;
      }
    }
    // Variables before the last element make a general reference head
    // (`a[x].b contains y`); the compiler builds its document per solution.
    bool static_prefix = true;
    for (size_t i = 0; i + 1 < head.size(); ++i) static_prefix = static_prefix && IsStringTerm(head[i].term);
    const bool last_bracketed = head.back().bracketed;
    const bool last_static = IsStringTerm(head.back().term);
    auto all_path = [&] {
      std::vector<TermPtr> path;
      for (const auto& element : head) path.push_back(element.term);
      return path;
    };
    auto path_but_last = [&] {
      std::vector<TermPtr> path;
      for (size_t i = 0; i + 1 < head.size(); ++i) path.push_back(head[i].term);
      return path;
    };

    bool has_value = false;
    if (At(TokenKind::kLParen) && !Cur().newline_before) {
      if (!last_static || !static_prefix) Fail(start, "rule head: function names cannot contain variables");
      rule->kind = RuleKind::kFunction;
      rule->path = all_path();
      rule->args = ParseArguments();
      has_value = ParseRuleValue(*rule, name);
    } else if (IsKeyword(Cur(), "contains")) {
      if (rule->is_default) Fail(start, "default rules cannot be multi-value rules");
      if (last_bracketed && !last_static && static_prefix) {
        Fail(start, "rule head: `contains` cannot follow a bracket");
      }
      Advance();
      rule->kind = RuleKind::kPartialSet;
      rule->path = all_path();
      rule->key = ParseMembership(false, true);
      has_value = true;
    } else {
      const bool assigns = At(TokenKind::kAssign) || At(TokenKind::kUnify);
      if (last_bracketed && !assigns && !v1_rules_) {
        rule->kind = RuleKind::kPartialSet;
        rule->path = path_but_last();
        rule->key = head.back().term;
        has_value = true;
      } else if (last_bracketed && !last_static) {
        rule->kind = RuleKind::kPartialObject;
        rule->path = path_but_last();
        rule->key = head.back().term;
        has_value = ParseRuleValue(*rule, name);
      } else {
        rule->kind = RuleKind::kComplete;
        rule->path = all_path();
        has_value = ParseRuleValue(*rule, name);
      }
      if (rule->is_default && rule->kind != RuleKind::kComplete) {
        Fail(start, "default rules must be complete rules or functions");
      }
    }
    rule->head_text = std::string(SourceSince(start));

    if (rule->is_default) {
      if (!has_value) Fail(start, "default rule must have a value (default p := <value>)");
      if (IsKeyword(Cur(), "if") || At(TokenKind::kLBrace)) Unexpected(Cur(), "default rules have no body");
      rules.push_back(std::move(rule));
      return;
    }
    const bool has_body = ParseRuleBody(rule->body);
    if (!has_value && !has_body) {
      if (!At(TokenKind::kEof) && !Cur().newline_before) Unexpected(Cur(), "expected rule value or body");
      Fail(start, "rule must have a value assignment or a body");
    }
    ParseElseChain(rule, has_body);
    rules.push_back(rule);
    // `p if { a } { b }`: further bodies define further rules with this head.
    while (has_body && At(TokenKind::kLBrace)) {
      auto another = std::make_shared<Rule>(*rule);
      another->location = Loc(Cur());
      another->else_rule = nullptr;
      another->body.clear();
      ParseBraceBody(another->body);
      rules.push_back(std::move(another));
    }
  }

  std::vector<TermPtr> ParseArguments() {
    Advance();  // (
    NewlineScope scope(*this, false);
    std::vector<TermPtr> args;
    while (!At(TokenKind::kRParen)) {
      args.push_back(ParseMembership(false, true));
      if (!At(TokenKind::kComma)) break;
      Advance();
    }
    Expect(TokenKind::kRParen, "')'");
    return args;
  }

  // `:= v` or `= v`; false (and value true) when the head gives none.
  bool ParseRuleValue(Rule& rule, const Token& name) {
    if (At(TokenKind::kAssign) || At(TokenKind::kUnify)) {
      rule.assign = At(TokenKind::kAssign);
      Advance();
      rule.value = ParseMembership(false, true);
      return true;
    }
    rule.value = MakeValue(Loc(name), Value::Bool(true));
    return false;
  }

  // `if { ... }`, `if expr`, or (v0) `{ ... }`. False when there is no body.
  bool ParseRuleBody(Body& body) {
    if (IsKeyword(Cur(), "if")) {
      Advance();
      if (!At(TokenKind::kLBrace)) {
        NewlineScope scope(*this, true);
        body.push_back(ParseLiteral());
        return true;
      }
      if (Peek(1).kind == TokenKind::kRBrace) Fail(Peek(1), "found empty body");
      // `if {` starts a body, unless that reading fails: then the brace is an
      // object or set term (`p if {x: 1 | ...}`), as in OPA.
      auto failure = TryParse([&] { ParseBraceBody(body); });
      if (failure) {
        body.clear();
        Otherwise(*failure, [&] {
          NewlineScope scope(*this, true);
          body.push_back(ParseLiteral());
        });
      }
      return true;
    }
    if (At(TokenKind::kLBrace)) {
      if (v1_rules_) Fail(Cur(), "`if` keyword is required before rule body");
      ParseBraceBody(body);
      return true;
    }
    return false;
  }

  void ParseBraceBody(Body& body) {
    Advance();  // {
    body = ParseBodyUntil(TokenKind::kRBrace);
    Expect(TokenKind::kRBrace, "'}'");
  }

  void ParseElseChain(const std::shared_ptr<Rule>& rule, bool has_body) {
    std::vector<std::shared_ptr<Rule>> chain;
    bool previous_has_body = has_body;
    while (IsWord(Cur(), "else")) {
      const Token& else_token = Cur();
      if (rule->kind != RuleKind::kComplete && rule->kind != RuleKind::kFunction) {
        Fail(else_token, "else keyword cannot be used on multi-value rules");
      }
      if (!previous_has_body) Fail(else_token, "else keyword cannot be used on rules without a body");
      Advance();
      auto alternative = std::make_shared<Rule>();
      alternative->location = Loc(else_token);
      alternative->kind = rule->kind;
      alternative->path = rule->path;
      alternative->args = rule->args;
      ParseRuleValue(*alternative, else_token);
      alternative->head_text = std::string(SourceSince(else_token));
      previous_has_body = ParseRuleBody(alternative->body);
      chain.push_back(std::move(alternative));
    }
    for (size_t i = chain.size(); i-- > 0;) {
      if (i == 0) {
        rule->else_rule = chain[0];
      } else {
        chain[i - 1]->else_rule = chain[i];
      }
    }
  }

  // ---- bodies and expressions ----------------------------------------------

  // Expressions separated by `;` or newlines, up to (not including) `close`.
  Body ParseBodyUntil(TokenKind close) {
    DepthGuard guard(*this);
    NewlineScope scope(*this, true);
    Body body;
    if (At(close)) Fail(Cur(), "found empty body");
    for (;;) {
      body.push_back(ParseLiteral());
      if (At(TokenKind::kSemicolon)) {
        Advance();
        if (At(close)) break;
        continue;
      }
      if (At(close)) break;
      if (Cur().newline_before) continue;
      Unexpected(Cur());
    }
    return body;
  }

  ExprPtr ParseLiteral() {
    DepthGuard guard(*this);
    const Token& start = Cur();
    auto expr = std::make_shared<Expr>();
    expr->location = Loc(start);
    if (IsWord(start, "some")) {
      ParseSome(*expr);
    } else if (IsKeyword(start, "every")) {
      ParseEvery(*expr);
    } else {
      if (IsWord(start, "not")) {
        Advance();
        if (not_body_ && At(TokenKind::kLBrace)) {
          expr->term = ParseNegatedBody();
        } else {
          expr->negated = true;
          expr->term = ParseExprTerm();
        }
      } else {
        expr->term = ParseExprTerm();
      }
    }
    expr->with = ParseWithModifiers();
    expr->text = std::string(SourceSince(start));
    return expr;
  }

  // `with` may continue on the next line: it cannot start an expression.
  std::vector<With> ParseWithModifiers() {
    std::vector<With> modifiers;
    while (IsWord(Cur(), "with")) {
      With with;
      with.location = Loc(Cur());
      Advance();
      with.target = ParsePostfix();
      if (!IsWord(Cur(), "as")) Unexpected(Cur(), "expected 'as'");
      Advance();
      with.value = ParseMembership(false, true);
      modifiers.push_back(std::move(with));
    }
    return modifiers;
  }

  // `not { a; b }` (rego.v2) holds when the body has no solution, which is
  // `[true | a; b] == []`: a comprehension sees the variables bound before
  // it and keeps its own local, as a negated expression does, and `with`
  // modifiers of the expression apply while its body is evaluated.
  TermPtr ParseNegatedBody() {
    const Location location = Loc(Cur());
    Term found;
    found.type = TermType::kArrayComprehension;
    found.location = location;
    found.operands.push_back(MakeValue(location, Value::Bool(true)));
    ParseBraceBody(found.body);
    Term none;
    none.type = TermType::kArray;
    none.location = location;
    return MakeCall(location, "equal", {Finish(std::move(found)), Finish(std::move(none))});
  }

  void ParseSome(Expr& expr) {
    Advance();  // some
    std::vector<TermPtr> terms;
    terms.push_back(ParsePostfix());
    while (At(TokenKind::kComma) && Continues()) {
      Advance();
      terms.push_back(ParsePostfix());
    }
    if (IsKeyword(Cur(), "in") && Continues()) {
      if (terms.size() > 2) Unexpected(Cur(), "`some ... in` takes one or two variables");
      Advance();
      expr.type = ExprType::kSomeIn;
      if (terms.size() == 2) expr.key = terms[0];
      expr.value = terms.back();
      expr.domain = ParseRelation(true);
      return;
    }
    expr.type = ExprType::kSome;
    for (const auto& term : terms) {
      if (term->type != TermType::kVar) {
        Fail(Cur(), "expected variables after `some` (or `some x in xs`)");
      }
      expr.vars.push_back(term->name);
    }
  }

  void ParseEvery(Expr& expr) {
    Advance();  // every
    expr.type = ExprType::kEvery;
    TermPtr first = ParseEveryVar();
    if (At(TokenKind::kComma)) {
      Advance();
      expr.key = first;
      expr.value = ParseEveryVar();
    } else {
      expr.value = first;
    }
    if (!IsKeyword(Cur(), "in")) Unexpected(Cur(), "expected 'in' after every variables");
    Advance();
    expr.domain = ParseRelation(true);
    if (!At(TokenKind::kLBrace)) Unexpected(Cur(), "expected '{' to start the every body");
    ParseBraceBody(expr.body);
  }

  TermPtr ParseEveryVar() {
    const Token& token = Cur();
    if (token.text == "_") {
      Advance();
      return MakeWildcard(Loc(token));
    }
    return MakeVar(Loc(token), std::string(ExpectVarName().text));
  }

  // An expression's term: `a = b`, `a := b`, `k, v in xs` or any infix term.
  TermPtr ParseExprTerm() {
    TermPtr lhs = ParseMembership(true, true);
    if (At(TokenKind::kAssign) || At(TokenKind::kUnify)) {
      const std::string_view builtin = BuiltinFor(Advance().kind);
      TermPtr rhs = ParseMembership(false, true);
      const Location location = lhs->location;
      return MakeCall(location, builtin, {std::move(lhs), std::move(rhs)});
    }
    return lhs;
  }

  // Lowest infix level: `x in xs` and, where a comma cannot mean anything
  // else, `k, v in xs`. `allow_or` is false for the first element of a
  // bracket or brace, where `|` starts a comprehension body.
  TermPtr ParseMembership(bool allow_key_value, bool allow_or) {
    TermPtr lhs = ParseRelation(allow_or);
    if (allow_key_value && kw_in_ && At(TokenKind::kComma) && Continues()) {
      Advance();
      TermPtr value = ParseRelation(allow_or);
      if (!IsKeyword(Cur(), "in")) Unexpected(Cur(), "expected 'in' after `key, value`");
      Advance();
      TermPtr domain = ParseRelation(allow_or);
      const Location location = lhs->location;
      lhs = MakeCall(location, "internal.member_3", {std::move(lhs), std::move(value), std::move(domain)});
    }
    while (kw_in_ && IsKeyword(Cur(), "in")) {
      Advance();
      TermPtr rhs = ParseRelation(allow_or);
      const Location location = lhs->location;
      lhs = MakeCall(location, "internal.member_2", {std::move(lhs), std::move(rhs)});
    }
    return lhs;
  }

  template <typename Next>
  TermPtr ParseLeftAssociative(std::initializer_list<TokenKind> kinds, Next next) {
    TermPtr lhs = next();
    for (;;) {
      const TokenKind kind = Cur().kind;
      if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end()) return lhs;
      Advance();
      TermPtr rhs = next();
      const Location location = lhs->location;
      lhs = MakeCall(location, BuiltinFor(kind), {std::move(lhs), std::move(rhs)});
    }
  }

  TermPtr ParseRelation(bool allow_or) {
    return ParseLeftAssociative({TokenKind::kEqual, TokenKind::kNotEqual, TokenKind::kLess, TokenKind::kLessEqual,
                                 TokenKind::kGreater, TokenKind::kGreaterEqual},
                                [&] { return ParseOr(allow_or); });
  }

  TermPtr ParseOr(bool allow_or) {
    if (!allow_or) return ParseAnd();
    return ParseLeftAssociative({TokenKind::kPipe}, [&] { return ParseAnd(); });
  }

  TermPtr ParseAnd() {
    return ParseLeftAssociative({TokenKind::kAmpersand}, [&] { return ParseArith(); });
  }

  TermPtr ParseArith() {
    return ParseLeftAssociative({TokenKind::kPlus, TokenKind::kMinus}, [&] { return ParseFactor(); });
  }

  TermPtr ParseFactor() {
    return ParseLeftAssociative({TokenKind::kStar, TokenKind::kSlash, TokenKind::kPercent},
                                [&] { return ParseUnary(); });
  }

  TermPtr ParseUnary() {
    if (!At(TokenKind::kMinus)) return ParsePostfix();
    DepthGuard guard(*this);
    const Token& minus = Advance();
    if (At(TokenKind::kNumber) && Cur().begin == minus.end) {
      const Token& number = Advance();
      return MakeValue(Loc(minus), ParseNumber(number, "-"));
    }
    TermPtr operand = ParseUnary();
    return MakeCall(Loc(minus), "minus", {MakeValue(Loc(minus), Value::Int(0)), std::move(operand)});
  }

  Value ParseNumber(const Token& token, std::string_view sign) const {
    auto number = Number::Parse(std::string(sign) + std::string(token.text));
    if (!number) Fail(token, "invalid number literal '" + std::string(token.text.substr(0, 64)) + "'");
    return Value::Num(*number);
  }

  // A primary term with its references and calls: `a.b[c]`, `f(x)[0]`.
  TermPtr ParsePostfix() {
    DepthGuard guard(*this);
    TermPtr head = ParsePrimary();
    if (head->type == TermType::kValue) return head;
    std::vector<TermPtr> path;
    bool static_path = true;  // only string segments so far: the ref may name a function
    for (;;) {
      if (At(TokenKind::kDot) && Continues()) {
        Advance();
        if (!At(TokenKind::kIdent)) Unexpected(Cur(), "expected ident after '.'");
        const Token& field = Advance();
        path.push_back(MakeString(Loc(field), std::string(field.text)));
      } else if (At(TokenKind::kLBracket) && Continues()) {
        Advance();
        NewlineScope scope(*this, false);
        path.push_back(ParseMembership(false, true));
        Expect(TokenKind::kRBracket, "']'");
        if (!IsStringTerm(path.back())) static_path = false;
      } else if (At(TokenKind::kLParen) && Continues() && head->type == TermType::kVar && static_path &&
                 !head->name.starts_with("_$")) {
        head = MakeFunctionCall(*head, path, ParseArguments());
        path.clear();
        static_path = false;
      } else {
        break;
      }
    }
    if (path.empty()) return head;
    Term ref;
    ref.type = TermType::kRef;
    ref.location = head->location;
    ref.operands.reserve(path.size() + 1);
    ref.operands.push_back(std::move(head));
    for (auto& part : path) ref.operands.push_back(std::move(part));
    return Finish(std::move(ref));
  }

  // `f(x)`, `a.b.f(x)`, `data.p["a.b"](x)`: see Term::name_segments.
  TermPtr MakeFunctionCall(const Term& head, const std::vector<TermPtr>& path, std::vector<TermPtr> args) const {
    std::vector<std::string> segments{head.name};
    for (const auto& part : path) segments.push_back(part->value.as_string());
    const bool dotted =
        std::all_of(segments.begin(), segments.end(), [](const std::string& s) { return IsIdentifier(s); });
    std::string name = head.name;
    for (size_t i = 1; i < segments.size(); ++i) {
      if (dotted || IsIdentifier(segments[i])) {
        name += "." + segments[i];
      } else {
        name += "[" + Value::String(segments[i]).ToRegoString() + "]";
      }
    }
    Term call;
    call.type = TermType::kCall;
    call.location = head.location;
    call.name = std::move(name);
    call.operands = std::move(args);
    call.name_segments = std::move(segments);
    return Finish(std::move(call));
  }

  // `$"a{x}b"`: internal.template_string over its pieces (see TermType::kCall).
  TermPtr ParseTemplate() {
    DepthGuard guard(*this);
    const Token& head = Advance();
    const Location location = Loc(head);
    NewlineScope scope(*this, false);  // placeholders may span lines
    Term parts;
    parts.type = TermType::kArray;
    parts.location = location;
    if (!head.value.empty()) parts.operands.push_back(MakeString(location, head.value));
    for (;;) {
      parts.operands.push_back(ParseTemplatePlaceholder());
      const Token& next = Cur();
      if (next.kind != TokenKind::kTemplateMiddle && next.kind != TokenKind::kTemplateTail) {
        Unexpected(next, "expected '}' to end the template placeholder");
      }
      Advance();
      if (!next.value.empty()) parts.operands.push_back(MakeString(Loc(next), next.value));
      if (next.kind == TokenKind::kTemplateTail) break;
    }
    return MakeCall(location, "internal.template_string", {Finish(std::move(parts))});
  }

  // The expression of one placeholder, with optional `with` modifiers. An
  // undefined expression must not make the template undefined, so it is
  // collected into a set `{t | t = expr}` that is empty when it has no value.
  TermPtr ParseTemplatePlaceholder() {
    const Token& start = Cur();
    const Location location = Loc(start);
    TermPtr value = ParseMembership(false, true);
    std::vector<With> modifiers = ParseWithModifiers();
    if (modifiers.empty() && value->type == TermType::kValue) return value;
    TermPtr output = MakeWildcard(location);
    auto expr = std::make_shared<Expr>();
    expr->location = location;
    expr->term = MakeCall(location, "eq", {output, std::move(value)});
    expr->text = ToString(*expr->term);
    for (const With& with : modifiers) {
      expr->text += " with " + ToString(*with.target) + " as " + ToString(*with.value);
    }
    expr->with = std::move(modifiers);
    Term collected;
    collected.type = TermType::kSetComprehension;
    collected.location = location;
    collected.operands.push_back(std::move(output));
    collected.body.push_back(std::move(expr));
    return Finish(std::move(collected));
  }

  TermPtr ParsePrimary() {
    const Token& token = Cur();
    const Location location = Loc(token);
    switch (token.kind) {
      case TokenKind::kNumber: Advance(); return MakeValue(location, ParseNumber(token, ""));
      case TokenKind::kString: {
        Advance();
        return MakeString(location, token.value);
      }
      case TokenKind::kLBracket: return ParseArray();
      case TokenKind::kLBrace: return ParseBraced();
      case TokenKind::kTemplateFull: Advance(); return MakeString(location, token.value);
      case TokenKind::kTemplateHead: return ParseTemplate();
      case TokenKind::kLParen: {
        Advance();
        NewlineScope scope(*this, false);
        TermPtr inner = ParseMembership(true, true);
        Expect(TokenKind::kRParen, "')'");
        return inner;
      }
      case TokenKind::kIdent: break;
      default: Unexpected(token);
    }
    const std::string_view word = token.text;
    if (word == "true" || word == "false") {
      Advance();
      return MakeValue(location, Value::Bool(word == "true"));
    }
    if (word == "null") {
      Advance();
      return MakeValue(location, Value::Null());
    }
    if (word == "_") {
      Advance();
      return MakeWildcard(location);
    }
    if (IsNonTermKeyword(token)) Unexpected(token);
    if (word == "set" && Peek(1).kind == TokenKind::kLParen && Peek(2).kind == TokenKind::kRParen) {
      Advance();
      Advance();
      Advance();
      Term set;
      set.type = TermType::kSet;
      set.location = location;
      return Finish(std::move(set));
    }
    Advance();
    return MakeVar(location, std::string(word));
  }

  // `[`, `{`: the first element is read without `|`, which would start a
  // comprehension body. When that reading fails (`[a | b, 4]`), the whole
  // literal is read again as a collection where `|` is set union, as OPA does.
  TermPtr ParseArray() {
    const Token& open = Advance();
    NewlineScope scope(*this, false);
    Term array;
    array.location = Loc(open);
    array.type = TermType::kArray;
    if (At(TokenKind::kRBracket)) {
      Advance();
      return Finish(std::move(array));
    }
    const Snapshot start = Save();
    TermPtr first = ParseMembership(false, false);
    if (At(TokenKind::kPipe)) {
      auto failure = TryParse([&] {
        Advance();
        array.body = ParseBodyUntil(TokenKind::kRBracket);
        Expect(TokenKind::kRBracket, "']'");
      });
      if (!failure) {
        array.type = TermType::kArrayComprehension;
        array.operands.push_back(std::move(first));
        return Finish(std::move(array));
      }
      Restore(start);
      return Otherwise(*failure, [&] {
        array.operands = ParseElements(TokenKind::kRBracket, nullptr);
        return Finish(std::move(array));
      });
    }
    array.operands = ParseElements(TokenKind::kRBracket, std::move(first));
    return Finish(std::move(array));
  }

  // `elem, elem, ...` (with an optional trailing comma) and the closing token;
  // `first` when already read.
  std::vector<TermPtr> ParseElements(TokenKind close, TermPtr first) {
    std::vector<TermPtr> elements;
    elements.push_back(first ? std::move(first) : ParseMembership(false, true));
    while (At(TokenKind::kComma)) {
      Advance();
      if (At(close)) break;
      elements.push_back(ParseMembership(false, true));
    }
    Expect(close, close == TokenKind::kRBracket ? "']' or ','" : "'}' or ','");
    return elements;
  }

  // `key: value, ...` up to and including `}`; the first pair when already read.
  std::vector<TermPtr> ParseObjectItems(TermPtr first_key, TermPtr first_value) {
    std::vector<TermPtr> items;
    if (first_key) {
      items.push_back(std::move(first_key));
      items.push_back(std::move(first_value));
    } else {
      items.push_back(ParseMembership(false, true));
      Expect(TokenKind::kColon, "':' in object");
      items.push_back(ParseMembership(false, true));
    }
    while (At(TokenKind::kComma)) {
      Advance();
      if (At(TokenKind::kRBrace)) break;
      items.push_back(ParseMembership(false, true));
      Expect(TokenKind::kColon, "':' in object");
      items.push_back(ParseMembership(false, true));
    }
    Expect(TokenKind::kRBrace, "'}' or ','");
    return items;
  }

  // `{}` (empty object), objects, sets and their comprehensions.
  TermPtr ParseBraced() {
    const Token& open = Advance();
    NewlineScope scope(*this, false);
    Term term;
    term.location = Loc(open);
    term.type = TermType::kObject;
    if (At(TokenKind::kRBrace)) {
      Advance();
      return Finish(std::move(term));
    }
    const Snapshot start = Save();
    TermPtr first = ParseMembership(false, false);
    const bool is_object = At(TokenKind::kColon);
    TermPtr value;
    if (is_object) {
      Advance();
      value = ParseMembership(false, false);
    }
    if (At(TokenKind::kPipe)) {
      auto failure = TryParse([&] {
        Advance();
        term.body = ParseBodyUntil(TokenKind::kRBrace);
        Expect(TokenKind::kRBrace, "'}'");
      });
      if (!failure) {
        term.type = is_object ? TermType::kObjectComprehension : TermType::kSetComprehension;
        term.operands.push_back(std::move(first));
        if (is_object) term.operands.push_back(std::move(value));
        return Finish(std::move(term));
      }
      Restore(start);
      return Otherwise(*failure, [&] {
        term.type = is_object ? TermType::kObject : TermType::kSet;
        term.operands = is_object ? ParseObjectItems(nullptr, nullptr) : ParseElements(TokenKind::kRBrace, nullptr);
        return Finish(std::move(term));
      });
    }
    term.type = is_object ? TermType::kObject : TermType::kSet;
    term.operands = is_object ? ParseObjectItems(std::move(first), std::move(value))
                              : ParseElements(TokenKind::kRBrace, std::move(first));
    return Finish(std::move(term));
  }

  std::string_view filename_;
  std::string_view source_;
  std::vector<Token> tokens_;
  const ParseLimits& limits_;
  size_t pos_ = 0;
  size_t prev_end_ = 0;
  size_t depth_ = 0;
  int wildcards_ = 0;
  int backtracks_left_ = kBacktrackBudget;
  bool newline_significant_ = true;
  bool kw_in_ = false;
  bool kw_every_ = false;
  bool kw_if_ = false;
  bool kw_contains_ = false;
  bool v1_rules_ = false;
  bool not_body_ = false;
};

template <typename T, typename Run>
Result<T> RunParser(std::string_view filename, std::string_view source, const ParseLimits& limits, Run run) {
  auto tokens = lexer::Tokenize(filename, source, limits);
  if (!tokens) return Fail(tokens.error());
  try {
    Parser parser(filename, source, std::move(*tokens), limits);
    return run(parser);
  } catch (const ParseFailure& failure) {
    return Fail(failure.error);
  } catch (const std::bad_alloc&) {
    return Fail(RegoError(kRegoParseError, Location{std::string(filename), 0, 0}, "out of memory while parsing"));
  }
}

std::string BodyString(const Body& body) {
  std::string out;
  for (size_t i = 0; i < body.size(); ++i) {
    if (i > 0) out += "; ";
    out += body[i]->text;
  }
  return out;
}

void AppendJoined(std::string& out, const std::vector<TermPtr>& terms, size_t from = 0) {
  for (size_t i = from; i < terms.size(); ++i) {
    if (i > from) out += ", ";
    out += ToString(*terms[i]);
  }
}

std::string CallString(const Term& term) {
  const auto& ops = term.operands;
  if (term.name == "internal.member_2" && ops.size() == 2) {
    return ToString(*ops[0]) + " in " + ToString(*ops[1]);
  }
  if (term.name == "internal.member_3" && ops.size() == 3) {
    return ToString(*ops[0]) + ", " + ToString(*ops[1]) + " in " + ToString(*ops[2]);
  }
  if (const std::string_view symbol = SymbolFor(term.name); !symbol.empty() && ops.size() == 2) {
    return ToString(*ops[0]) + " " + std::string(symbol) + " " + ToString(*ops[1]);
  }
  std::string out = term.name + "(";
  AppendJoined(out, ops);
  return out + ")";
}

}  // namespace

Result<Module> ParseModule(std::string_view filename, std::string_view source, RegoVersion version,
                           const ParseLimits& limits) {
  return RunParser<Module>(filename, source, limits, [&](Parser& parser) { return parser.ParseModule(version); });
}

Result<Body> ParseQuery(std::string_view query, const ParseLimits& limits) {
  return RunParser<Body>("", query, limits, [](Parser& parser) { return parser.ParseQuery(); });
}

std::string ToString(const Term& term) {
  switch (term.type) {
    case TermType::kValue: return term.value.ToRegoString();
    case TermType::kVar: return term.name;
    case TermType::kRef: {
      if (term.operands.empty()) return "";
      std::string out = ToString(*term.operands[0]);
      for (size_t i = 1; i < term.operands.size(); ++i) {
        const Term& part = *term.operands[i];
        if (part.type == TermType::kValue && part.value.is_string() && IsIdentifier(part.value.as_string()) &&
            !IsReservedWord(part.value.as_string())) {
          out += "." + part.value.as_string();
        } else {
          out += "[" + ToString(part) + "]";
        }
      }
      return out;
    }
    case TermType::kArray: {
      std::string out = "[";
      AppendJoined(out, term.operands);
      return out + "]";
    }
    case TermType::kSet: {
      if (term.operands.empty()) return "set()";
      std::string out = "{";
      AppendJoined(out, term.operands);
      return out + "}";
    }
    case TermType::kObject: {
      std::string out = "{";
      for (size_t i = 0; i + 1 < term.operands.size(); i += 2) {
        if (i > 0) out += ", ";
        out += ToString(*term.operands[i]) + ": " + ToString(*term.operands[i + 1]);
      }
      return out + "}";
    }
    case TermType::kArrayComprehension:
      return "[" + (term.operands.empty() ? "" : ToString(*term.operands[0])) + " | " + BodyString(term.body) + "]";
    case TermType::kSetComprehension:
      return "{" + (term.operands.empty() ? "" : ToString(*term.operands[0])) + " | " + BodyString(term.body) + "}";
    case TermType::kObjectComprehension:
      if (term.operands.size() < 2) return "{ | " + BodyString(term.body) + "}";
      return "{" + ToString(*term.operands[0]) + ": " + ToString(*term.operands[1]) + " | " + BodyString(term.body) +
             "}";
    case TermType::kCall: return CallString(term);
  }
  return "";
}

}  // namespace contrast::policy::rego::ast
