// Calls builtins of the default registry from tests.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "policy/rego/builtins.h"
#include "policy/rego/value.h"

namespace contrast::policy::rego::testing {

inline Value J(std::string_view json) {
  auto v = Value::FromJson(json);
  EXPECT_TRUE(v.has_value()) << json;
  return v ? *v : Value::Null();
}

inline Value S(std::string s) { return Value::String(std::move(s)); }

inline Result<Value> Call(std::string_view name, std::vector<Value> args) {
  const Builtin* builtin = BuiltinRegistry::Default().Find(name);
  if (builtin == nullptr) return Fail(ErrorCode::kInternal, "no builtin " + std::string(name));
  EXPECT_EQ(builtin->arity, static_cast<int>(args.size())) << name;
  return builtin->function(args);
}

// The builtin's result, or a failed expectation with the error.
inline Value Ok(std::string_view name, std::vector<Value> args) {
  auto r = Call(name, std::move(args));
  EXPECT_TRUE(r.has_value()) << name << ": " << (r ? "" : r.error().message);
  return r ? *r : Value::String("<error>");
}

inline std::string Str(std::string_view name, std::vector<Value> args) {
  Value v = Ok(name, std::move(args));
  EXPECT_TRUE(v.is_string()) << name;
  return v.is_string() ? v.as_string() : "<not a string>";
}

// The error message; the code must be `code`.
inline std::string Err(std::string_view name, std::vector<Value> args, ErrorCode code) {
  auto r = Call(name, std::move(args));
  EXPECT_FALSE(r.has_value()) << name << " succeeded with " << (r ? r->ToJson() : "");
  if (r) return "<no error>";
  EXPECT_EQ(r.error().code, code) << r.error().message;
  return r.error().message;
}

inline std::string TypeErr(std::string_view name, std::vector<Value> args) {
  return Err(name, std::move(args), ErrorCode::kInvalidArgument);
}

// Builtin failures use a code other than kInvalidArgument and kNotFound.
inline std::string BuiltinErr(std::string_view name, std::vector<Value> args) {
  auto r = Call(name, std::move(args));
  EXPECT_FALSE(r.has_value()) << name << " succeeded with " << (r ? r->ToJson() : "");
  if (r) return "<no error>";
  EXPECT_NE(r.error().code, ErrorCode::kInvalidArgument) << r.error().message;
  EXPECT_NE(r.error().code, ErrorCode::kNotFound) << r.error().message;
  return r.error().message;
}

}  // namespace contrast::policy::rego::testing
