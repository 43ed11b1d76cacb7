// Tokens of Rego source text. Private to the parser (parser.cpp); exposed in
// a header so the lexer can be tested on its own.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "policy/rego/ast.h"

namespace contrast::policy::rego::lexer {

enum class TokenKind {
  kEof,
  kIdent,   // names and keywords; the parser decides which keywords are active
  kNumber,  // unsigned literal; a leading '-' is a separate token
  kString,  // "..." or `...`; `value` holds the decoded text
  kLBrace,
  kRBrace,
  kLBracket,
  kRBracket,
  kLParen,
  kRParen,
  kComma,
  kSemicolon,
  kColon,
  kDot,
  kAssign,    // :=
  kUnify,     // =
  kEqual,     // ==
  kNotEqual,  // !=
  kLess,
  kLessEqual,
  kGreater,
  kGreaterEqual,
  kPlus,
  kMinus,
  kStar,
  kSlash,
  kPercent,
  kAmpersand,
  kPipe,
  // Template strings (`$"a{x}b"`, `` $`a{x}b` ``) are split around their
  // embedded expressions, whose tokens come in between: `value` holds the
  // decoded literal text of each piece.
  kTemplateFull,    // `$"text"`: no embedded expression
  kTemplateHead,    // `$"text{`
  kTemplateMiddle,  // `}text{`
  kTemplateTail,    // `}text"`
};

struct Token {
  TokenKind kind = TokenKind::kEof;
  std::string_view text;  // the token as written (strings with quotes)
  std::string value;      // kString: the decoded text
  int line = 0;           // 1-based
  int column = 0;         // 1-based, in bytes
  size_t begin = 0;       // byte offsets into the source
  size_t end = 0;
  // Newlines end expressions in bodies, so the parser needs to know whether
  // one (or a comment, which runs to the end of a line) came before the token.
  bool newline_before = false;
};

// Splits `source` into tokens, ending with one kEof token. Errors are
// rego_parse_error with the position in `filename`.
Result<std::vector<Token>> Tokenize(std::string_view filename, std::string_view source, const ast::ParseLimits& limits);

}  // namespace contrast::policy::rego::lexer
