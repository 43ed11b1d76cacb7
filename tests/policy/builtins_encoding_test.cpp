// Encoding builtins: base64, hex, JSON, URL query, YAML and digests.
#include <string>

#include <gtest/gtest.h>

#include "builtins_call.h"

namespace contrast::policy::rego {
namespace {

using testing::BuiltinErr;
using testing::J;
using testing::Ok;
using testing::S;
using testing::Str;
using testing::TypeErr;

TEST(Base64Builtins, Standard) {
  EXPECT_EQ(Str("base64.encode", {S("hello")}), "aGVsbG8=");
  EXPECT_EQ(Str("base64.encode", {S("")}), "");
  EXPECT_EQ(Str("base64.encode", {S(">>>?")}), "Pj4+Pw==");
  EXPECT_EQ(Str("base64.decode", {S("aGVsbG8=")}), "hello");
  EXPECT_EQ(Str("base64.decode", {S("aGVs\r\nbG8=")}), "hello");  // Go skips CR and LF
  EXPECT_EQ(Str("base64.decode", {S("aGk=")}), "hi");
  EXPECT_EQ(Str("base64.decode", {S("aGl=")}), "hi");  // non-canonical trailing bits are accepted
  EXPECT_EQ(BuiltinErr("base64.decode", {S("aGVsbG8")}), "base64.decode: illegal base64 data at input byte 4");
  EXPECT_EQ(BuiltinErr("base64.decode", {S("aGVs!G8=")}), "base64.decode: illegal base64 data at input byte 4");
  EXPECT_EQ(BuiltinErr("base64.decode", {S("a===")}), "base64.decode: illegal base64 data at input byte 1");
  EXPECT_EQ(BuiltinErr("base64.decode", {S("aGk=aGk=")}), "base64.decode: illegal base64 data at input byte 4");
  EXPECT_EQ(BuiltinErr("base64.decode", {S("Pj4-Pw==")}), "base64.decode: illegal base64 data at input byte 3");
  // Decoded bytes need not be UTF-8.
  EXPECT_EQ(Str("base64.decode", {S("//4=")}), "\xff\xfe");
  // Long inputs: whole quanta are decoded in bulk until the first byte that
  // is not in the alphabet, which must still be reported where it is.
  EXPECT_EQ(Str("base64.decode", {S("aGVsbG8gd29ybGQsIGhlbGxvIHdvcmxk")}), "hello world, hello world");
  EXPECT_EQ(Str("base64.decode", {S("aGVsbG8gd29y\nbGQsIGhlbGxvIHdvcmxk")}), "hello world, hello world");
  EXPECT_EQ(BuiltinErr("base64.decode", {S("aGVsbG8gd2!ybGQsIGhlbGxvIHdvcmxk")}),
            "base64.decode: illegal base64 data at input byte 10");
  EXPECT_EQ(BuiltinErr("base64.decode", {S("aGVsbG8gd29ybGQ=aGVs")}),
            "base64.decode: illegal base64 data at input byte 16");
  EXPECT_EQ(Ok("base64.is_valid", {S("aGVsbG8=")}), Value::Bool(true));
  EXPECT_EQ(Ok("base64.is_valid", {S("aGVsbG8")}), Value::Bool(false));
  EXPECT_EQ(Ok("base64.is_valid", {J("1")}), Value::Bool(false));
  EXPECT_EQ(TypeErr("base64.decode", {J("1")}), "base64.decode: operand 1 must be string but got number");
}

TEST(Base64Builtins, Url) {
  EXPECT_EQ(Str("base64url.encode", {S(">>>?")}), "Pj4-Pw==");
  EXPECT_EQ(Str("base64url.encode_no_pad", {S(">>>?")}), "Pj4-Pw");
  EXPECT_EQ(Str("base64url.encode", {S("{\"a\":1}")}), "eyJhIjoxfQ==");
  EXPECT_EQ(Str("base64url.decode", {S("Pj4-Pw==")}), ">>>?");
  EXPECT_EQ(Str("base64url.decode", {S("Pj4-Pw")}), ">>>?");
  EXPECT_EQ(Str("base64url.decode", {S("eyJhIjoxfQ")}), "{\"a\":1}");
  EXPECT_EQ(Str("base64url.decode", {S("")}), "");
  EXPECT_EQ(BuiltinErr("base64url.decode", {S("a")}), "base64url.decode: illegal base64url string: a");
  EXPECT_EQ(BuiltinErr("base64url.decode", {S("Pj4+Pw==")}), "base64url.decode: illegal base64 data at input byte 3");
}

TEST(HexBuiltins, EncodeDecode) {
  EXPECT_EQ(Str("hex.encode", {S("hi")}), "6869");
  EXPECT_EQ(Str("hex.encode", {S("\xff")}), "ff");
  EXPECT_EQ(Str("hex.decode", {S("6869")}), "hi");
  EXPECT_EQ(Str("hex.decode", {S("4A4b")}), "JK");
  EXPECT_EQ(BuiltinErr("hex.decode", {S("6g")}), "hex.decode: encoding/hex: invalid byte: U+0067 'g'");
  EXPECT_EQ(BuiltinErr("hex.decode", {S("686")}), "hex.decode: encoding/hex: odd length hex string");
  EXPECT_EQ(BuiltinErr("hex.decode", {S("68z")}), "hex.decode: encoding/hex: invalid byte: U+007A 'z'");
}

TEST(JsonBuiltins, Marshal) {
  EXPECT_EQ(Str("json.marshal", {J(R"({"b":[1,2.5,"x"],"a":null,"c":{"d":true}})")}),
            R"({"a":null,"b":[1,2.5,"x"],"c":{"d":true}})");
  EXPECT_EQ(Str("json.marshal", {S("<a & b>")}), R"("\u003ca \u0026 b\u003e")");
  EXPECT_EQ(Str("json.marshal", {S("line\nbreak\t\"q\"\x01")}), R"("line\nbreak\t\"q\"\u0001")");
  EXPECT_EQ(Str("json.marshal", {Value::FromSet({J("3"), J("1")})}), "[1,3]");
  EXPECT_EQ(Str("json.marshal", {J("123456789012345678901234567890")}), "123456789012345678901234567890");
  EXPECT_EQ(Str("json.marshal", {J("[]")}), "[]");
  EXPECT_EQ(Str("json.marshal", {S("é")}), "\"é\"");
}

TEST(JsonBuiltins, MarshalWithOptions) {
  EXPECT_EQ(Str("json.marshal_with_options", {J(R"({"a":[1]})"), J(R"({"pretty":true})")}),
            "{\n\t\"a\": [\n\t\t1\n\t]\n}");
  EXPECT_EQ(Str("json.marshal_with_options", {J(R"({"a":1})"), J(R"({"indent":"  ","prefix":"> "})")}),
            "> {\n>   \"a\": 1\n> }");
  EXPECT_EQ(Str("json.marshal_with_options", {J(R"({"a":1})"), J(R"({"indent":"  ","pretty":false})")}), R"({"a":1})");
  EXPECT_EQ(TypeErr("json.marshal_with_options", {J("1"), J(R"({"bogus":1})")}),
            "json.marshal_with_options: operand 2 object contained unknown key bogus");
}

TEST(JsonBuiltins, UnmarshalAndIsValid) {
  EXPECT_EQ(Ok("json.unmarshal", {S(R"({"a":[1,true,null,"x"]})")}), J(R"({"a":[1,true,null,"x"]})"));
  EXPECT_EQ(Ok("json.unmarshal", {S(" 12 ")}), J("12"));
  // Go's encoding/json keeps the last of repeated keys.
  EXPECT_EQ(Ok("json.unmarshal", {S(R"({"a":1,"b":2,"a":{"c":3}})")}), J(R"({"a":{"c":3},"b":2})"));
  EXPECT_EQ(BuiltinErr("json.unmarshal", {S("{")}).rfind("json.unmarshal: ", 0), 0u);
  EXPECT_EQ(BuiltinErr("json.unmarshal", {S("[1] x")}).rfind("json.unmarshal: ", 0), 0u);
  // Deep nesting is refused, not a stack overflow.
  EXPECT_EQ(BuiltinErr("json.unmarshal", {S(std::string(100000, '['))}).rfind("json.unmarshal: ", 0), 0u);
  EXPECT_EQ(Ok("json.is_valid", {S(R"({"a":1})")}), Value::Bool(true));
  EXPECT_EQ(Ok("json.is_valid", {S("{a:1}")}), Value::Bool(false));
  EXPECT_EQ(Ok("json.is_valid", {J("1")}), Value::Bool(false));
  // Round trip.
  const Value v = J(R"({"k":["<x>",{"n":-1.5}]})");
  EXPECT_EQ(Ok("json.unmarshal", {Ok("json.marshal", {v})}), v);
}

TEST(UrlQueryBuiltins, EncodeDecode) {
  EXPECT_EQ(Str("urlquery.encode", {S("a b&c=d/é~-_.")}), "a+b%26c%3Dd%2F%C3%A9~-_.");
  EXPECT_EQ(Str("urlquery.decode", {S("a+b%26c%3d")}), "a b&c=");
  EXPECT_EQ(BuiltinErr("urlquery.decode", {S("%zz")}), R"(urlquery.decode: invalid URL escape "%zz")");
  EXPECT_EQ(BuiltinErr("urlquery.decode", {S("ab%4")}), R"(urlquery.decode: invalid URL escape "%4")");
  EXPECT_EQ(Str("urlquery.encode_object", {J(R"({"b":["2","3"],"a":"x y"})")}), "a=x+y&b=2&b=3");
  EXPECT_EQ(Str("urlquery.encode_object", {J("{}")}), "");
  EXPECT_EQ(Str("urlquery.encode_object", {J(R"({"s":[]})")}), "");
  EXPECT_EQ(TypeErr("urlquery.encode_object", {J(R"({"a":1})")}),
            "urlquery.encode_object: operand 1 values must be string, array[string], or set[string]");
  EXPECT_EQ(Ok("urlquery.decode_object", {S("a=1&b=2&b=3&c&&d=")}),
            J(R"({"a":["1"],"b":["2","3"],"c":[""],"d":[""]})"));
  EXPECT_EQ(BuiltinErr("urlquery.decode_object", {S("a=1;b=2")}),
            "urlquery.decode_object: invalid semicolon separator in query");
  EXPECT_EQ(BuiltinErr("urlquery.decode_object", {S("a=%zz")}), R"(urlquery.decode_object: invalid URL escape "%zz")");
}

TEST(YamlBuiltins, Marshal) {
  EXPECT_EQ(Str("yaml.marshal", {J(R"({"a":[1,2],"b":{"c":"d"}})")}), "a:\n- 1\n- 2\nb:\n  c: d\n");
  EXPECT_EQ(Str("yaml.marshal", {J(R"([{"a":1,"b":2},[3]])")}), "- a: 1\n  b: 2\n- - 3\n");
  EXPECT_EQ(Str("yaml.marshal", {J(R"({"e":{},"l":[],"z":null,"t":true})")}), "e: {}\nl: []\nt: true\nz: null\n");
  EXPECT_EQ(Str("yaml.marshal", {J(R"({"s":"true","m":"12","x":"a: b","e":""})")}),
            "e: \"\"\nm: \"12\"\ns: \"true\"\nx: 'a: b'\n");
  // YAML 1.1 reads n, yes and off as booleans, so go-yaml quotes them.
  EXPECT_EQ(Str("yaml.marshal", {J(R"({"n":"off"})")}), "\"n\": \"off\"\n");
  EXPECT_EQ(Str("yaml.marshal", {S("foo")}), "foo\n");
  // Output reads back to the same value.
  const Value v = J(R"({"list":[{"k":"v: w"},"#x","- y",null,1.5],"m":{"n":{"o":"yes"}}})");
  EXPECT_EQ(Ok("yaml.unmarshal", {Ok("yaml.marshal", {v})}), v);
}

TEST(YamlBuiltins, Unmarshal) {
  EXPECT_EQ(Ok("yaml.unmarshal", {S("a: [1, yes, ~, 'x', \"7\", 2.5, off]\nb:\n  c: d\n")}),
            J(R"({"a":[1,true,null,"x","7",2.5,false],"b":{"c":"d"}})"));
  EXPECT_EQ(Ok("yaml.unmarshal", {S("0x1F")}), J("31"));
  EXPECT_EQ(Ok("yaml.unmarshal", {S("")}), J("null"));
  EXPECT_EQ(Ok("yaml.unmarshal", {S("1: one\ntrue: t")}), J(R"({"1":"one","true":"t"})"));
  EXPECT_EQ(Ok("yaml.unmarshal", {S("a: &x [1]\nb: *x")}), J(R"({"a":[1],"b":[1]})"));
  EXPECT_EQ(BuiltinErr("yaml.unmarshal", {S("a: [")}).rfind("yaml.unmarshal: ", 0), 0u);
  EXPECT_EQ(Ok("yaml.is_valid", {S("a: 1")}), Value::Bool(true));
  EXPECT_EQ(Ok("yaml.is_valid", {S("a: [")}), Value::Bool(false));
  EXPECT_EQ(Ok("yaml.is_valid", {J("1")}), Value::Bool(false));
  // A dedent that leaves the root, and a syntax error in a later document,
  // fail as in go-yaml; a marked second document does not.
  EXPECT_EQ(Ok("yaml.is_valid", {S("  test:\ntest1: hello\n")}), Value::Bool(false));
  EXPECT_EQ(Ok("yaml.is_valid", {S("a: 1\n---\n\tb: 2\n")}), Value::Bool(false));
  EXPECT_EQ(Ok("yaml.is_valid", {S("a: 1\n---\nb: 2\n")}), Value::Bool(true));
  EXPECT_EQ(Ok("yaml.unmarshal", {S("a: 1\n---\nb: 2\n")}), J(R"({"a":1})"));
  EXPECT_EQ(BuiltinErr("yaml.unmarshal", {S("  test:\ntest1: hello\n")}).rfind("yaml.unmarshal: ", 0), 0u);
}

TEST(YamlBuiltins, AliasBombIsRefused) {
  // Nine levels of nine-fold aliases: 9^9 nodes if expanded.
  std::string doc = "a: &a [x,x,x,x,x,x,x,x,x]\n";
  for (char level = 'b'; level <= 'j'; ++level) {
    const char prev = static_cast<char>(level - 1);
    doc += std::string(1, level) + ": &" + level + " [";
    for (int i = 0; i < 9; ++i) doc += std::string(i ? "," : "") + "*" + prev;
    doc += "]\n";
  }
  EXPECT_EQ(BuiltinErr("yaml.unmarshal", {S(doc)}), "yaml.unmarshal: document too large");
  EXPECT_EQ(
      BuiltinErr("yaml.unmarshal", {S(std::string(10000, '[') + std::string(10000, ']'))}).rfind("yaml.unmarshal: ", 0),
      0u);
}

TEST(CryptoBuiltins, Digests) {
  EXPECT_EQ(Str("crypto.sha256", {S("")}), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Str("crypto.sha1", {S("abc")}), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(Str("crypto.md5", {S("abc")}), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(Str("crypto.hmac.sha256", {S("message"), S("key")}),
            "6e9ef29b75fffc5b7abae527d58fdadb2fe42e7219011976917343065f58ed4a");
  EXPECT_EQ(Ok("crypto.hmac.equal", {S("abc"), S("abc")}), Value::Bool(true));
  EXPECT_EQ(Ok("crypto.hmac.equal", {S("abc"), S("abd")}), Value::Bool(false));
  EXPECT_EQ(TypeErr("crypto.sha256", {J("1")}), "crypto.sha256: operand 1 must be string but got number");
}

}  // namespace
}  // namespace contrast::policy::rego
