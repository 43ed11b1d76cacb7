// The YAML writer: round trips that keep meaning, a fixed point on re-reading,
// and kubectl's layout.
#include "kube/emit.h"

#include <gtest/gtest.h>

#include "kube/nodes.h"

namespace contrast::kube {
namespace {

YAML::Node Load(const std::string& text) { return YAML::Load(text); }

std::string MustEmit(const YAML::Node& root) {
  auto text = EmitYaml(root);
  EXPECT_TRUE(text.has_value()) << (text ? "" : text.error().message);
  return text ? *text : std::string();
}

// Writes `root`, reads it back, and checks equal meaning and a fixed point.
std::string RoundTrip(const YAML::Node& root) {
  const std::string text = MustEmit(root);
  YAML::Node again = Load(text);
  EXPECT_TRUE(Equal(root, again)) << text;
  EXPECT_EQ(MustEmit(again), text);
  return text;
}

const std::vector<std::string>& TrickyStrings() {
  static const std::vector<std::string> strings = {
      "1",
      "-1",
      "+1",
      "1.5",
      "1e3",
      "1E-3",
      ".5",
      "0x1F",
      "0o17",
      "0b101",
      "017",
      "1_000",
      "190:20:30",
      "true",
      "false",
      "True",
      "FALSE",
      "yes",
      "no",
      "Yes",
      "NO",
      "on",
      "off",
      "ON",
      "y",
      "n",
      "Y",
      "null",
      "Null",
      "NULL",
      "~",
      "",
      ".inf",
      "-.Inf",
      ".NaN",
      "2001-12-14",
      "2001-12-14t21:59:43.10-05:00",
      "=",
      "<<",
      ": ",
      ":",
      "a: b",
      "a:b",
      "#",
      "a #b",
      "a#b",
      "- a",
      "-",
      "--",
      "---",
      "...",
      "? x",
      "?",
      "[a]",
      "{a: b}",
      "a, b",
      ",",
      "*alias",
      "&anchor",
      "!tag",
      "|",
      ">",
      "'single'",
      "\"double\"",
      "%dir",
      "@at",
      "`tick`",
      " leading",
      "trailing ",
      "  both  ",
      "\ttab",
      "a\tb",
      "multi\nline",
      "multi\nline\n",
      "multi\nline\n\n",
      "\nleading newline",
      "  indented\nblock\n",
      "trailing spaces  \nnext\n",
      "line\n  \nws",
      "tab\n\tindented\n",
      "cr\r\nlf",
      std::string("nul\0byte", 8),
      "bell\a",
      "del\x7f",
      "unicode: héllo ✓ 🚀",
      "é",
      "\u0085",
      "line\u2028sep",
      "bom\uFEFF",
      "80Mi",
      "1.2.3",
      "v1",
      "ghcr.io/edgelesssys/contrast/initializer:v1.0@sha256:0123",
      "coordinator-ready.default",
      "*/5 * * * *",
      "echo $(HOME) && exit 0",
      "C:\\path\\to",
      "quote\"and\\backslash",
  };
  return strings;
}

TEST(EmitYaml, StringsKeepTheirValueAndStayStrings) {
  for (const std::string& value : TrickyStrings()) {
    SCOPED_TRACE(internal::StringNode(value).Scalar());
    YAML::Node root(YAML::NodeType::Map);
    root["key"] = internal::StringNode(value);
    YAML::Node item(YAML::NodeType::Sequence);
    item.push_back(internal::StringNode(value));
    root["list"] = item;
    const std::string text = RoundTrip(root);
    YAML::Node again = Load(text);
    ASSERT_TRUE(again["key"].IsScalar()) << text;
    EXPECT_EQ(again["key"].Scalar(), value) << text;
    EXPECT_TRUE(IsStringScalar(again["key"])) << text;
    EXPECT_EQ(again["list"][0].Scalar(), value) << text;
    EXPECT_TRUE(IsStringScalar(again["list"][0])) << text;
  }
}

TEST(EmitYaml, StringKeysRoundTrip) {
  for (const std::string& value : TrickyStrings()) {
    if (value.find('\n') != std::string::npos) continue;
    SCOPED_TRACE(value);
    YAML::Node root(YAML::NodeType::Map);
    root[internal::StringNode(value)] = internal::StringNode("v");
    const std::string text = RoundTrip(root);
    YAML::Node again = Load(text);
    EXPECT_EQ(again.begin()->first.Scalar(), value) << text;
  }
}

TEST(EmitYaml, PlainScalarsStayPlain) {
  YAML::Node root = Load(
      "int: 1\nneg: -5\nfloat: 1.5e3\nhex: 0x1F\nbool: true\nyes: yes\nnull1: ~\nnull2: null\nempty:\n"
      "word: hello world\ndate: 2001-12-14\nurl: http://x/y?z=1#frag\n80: port\n");
  const std::string text = RoundTrip(root);
  EXPECT_EQ(text,
            "int: 1\nneg: -5\nfloat: 1.5e3\nhex: 0x1F\nbool: true\nyes: yes\nnull1: null\nnull2: null\nempty: null\n"
            "word: hello world\ndate: 2001-12-14\nurl: http://x/y?z=1#frag\n80: port\n");
  YAML::Node again = Load(text);
  for (const char* key : {"int", "hex", "bool", "date"}) EXPECT_EQ(again[key].Tag(), "?") << key;
  EXPECT_TRUE(again["null1"].IsNull());
}

TEST(EmitYaml, QuotedScalarsStayStrings) {
  YAML::Node root = Load("a: \"1\"\nb: 'true'\nc: \"foo\"\nd: \"\"\ne: '~'\nf: !!str 12\n\"80\": port\n");
  EXPECT_EQ(RoundTrip(root), "a: \"1\"\nb: \"true\"\nc: foo\nd: \"\"\ne: \"~\"\nf: \"12\"\n\"80\": port\n");
}

TEST(EmitYaml, MultiLineStringsAsLiteralBlocks) {
  YAML::Node root(YAML::NodeType::Map);
  root["clip"] = internal::StringNode("a\nb\n");
  root["strip"] = internal::StringNode("a\nb");
  root["keep"] = internal::StringNode("a\n\n\n");
  root["inner"] = internal::StringNode("a\n\n  indented\n#not a comment\n");
  root["spaces"] = internal::StringNode("  first line indented\n");
  YAML::Node args(YAML::NodeType::Sequence);
  args.push_back(internal::StringNode("set -e\necho hi\n"));
  root["args"] = args;
  EXPECT_EQ(RoundTrip(root),
            "clip: |\n  a\n  b\nstrip: |-\n  a\n  b\nkeep: |+\n  a\n\n\ninner: |\n  a\n\n    indented\n"
            "  #not a comment\nspaces: \"  first line indented\\n\"\nargs:\n- |\n  set -e\n  echo hi\n");
}

TEST(EmitYaml, BlockLayoutAsKubectlWritesIt) {
  YAML::Node root = Load(
      "apiVersion: apps/v1\nkind: Deployment\nspec: {template: {spec: {containers: [{name: a, image: x, "
      "args: [p, q], env: [], resources: {}}], volumes: [[1, 2], []]}}}\n");
  EXPECT_EQ(RoundTrip(root),
            "apiVersion: apps/v1\n"
            "kind: Deployment\n"
            "spec:\n"
            "  template:\n"
            "    spec:\n"
            "      containers:\n"
            "      - name: a\n"
            "        image: x\n"
            "        args:\n"
            "        - p\n"
            "        - q\n"
            "        env: []\n"
            "        resources: {}\n"
            "      volumes:\n"
            "      - - 1\n"
            "        - 2\n"
            "      - []\n");
}

TEST(EmitYaml, LongStringsStayOnOneLine) {
  std::string base64(30 * 1024, 'A');
  for (size_t i = 0; i < base64.size(); i += 7) base64[i] = '+';
  YAML::Node root(YAML::NodeType::Map);
  root["annotation"] = internal::StringNode(base64);
  const std::string text = RoundTrip(root);
  EXPECT_EQ(text, "annotation: " + base64 + "\n");
}

TEST(EmitYaml, ExplicitTagsAreKept) {
  YAML::Node root = Load(
      "a: !!int \"1\"\nb: !local x\nc: !<tag:example.com,2024:t> y\nd: !!binary aGk=\n"
      "e: !!map {k: v}\nf: !!null \"\"\n");
  EXPECT_EQ(RoundTrip(root),
            "a: !!int 1\nb: !local x\nc: !<tag:example.com,2024:t> y\nd: !!binary aGk=\ne: !!map\n  k: v\n"
            "f: !!null \"\"\n");
}

TEST(EmitYaml, RefusesWhatItCannotWriteFaithfully) {
  YAML::Node complex_key = Load("? [a, b]\n: c\n");
  EXPECT_FALSE(EmitYaml(complex_key));
  YAML::Node long_key(YAML::NodeType::Map);
  long_key[std::string(2000, 'k')] = "v";
  EXPECT_FALSE(EmitYaml(long_key));
  YAML::Node bad_tag(YAML::NodeType::Map);
  YAML::Node value("x");
  value.SetTag("tag with space");
  bad_tag["a"] = value;
  EXPECT_FALSE(EmitYaml(bad_tag));
}

TEST(Equal, ComparesMeaning) {
  EXPECT_TRUE(Equal(Load("a: foo"), Load("a: \"foo\"")));
  EXPECT_TRUE(Equal(Load("a: foo"), Load("{a: 'foo'}")));
  EXPECT_FALSE(Equal(Load("a: 1"), Load("a: \"1\"")));
  EXPECT_FALSE(Equal(Load("a: true"), Load("a: 'true'")));
  EXPECT_FALSE(Equal(Load("a: 1\nb: 2"), Load("b: 2\na: 1")));  // key order matters
  EXPECT_FALSE(Equal(Load("a: [1, 2]"), Load("a: [1, 2, 3]")));
  EXPECT_FALSE(Equal(Load("a: {}"), Load("a: []")));
  EXPECT_FALSE(Equal(Load("a: ~"), Load("a: ''")));
  EXPECT_TRUE(Equal(Load("a: ~"), Load("a:")));
  EXPECT_FALSE(Equal(Load("a: !!int 1"), Load("a: !!str 1")));
  EXPECT_TRUE(Equal(Load("a: !!str x"), Load("a: x")));
  EXPECT_TRUE(Equal(internal::StringNode("x"), Load("x")));
  EXPECT_FALSE(Equal(internal::StringNode("1"), Load("1")));
}

TEST(MayReadAsNonString, IsCautious) {
  for (const char* v : {"1", "0x1F", "1e3", "yes", "On", "~", "", "2024-01-01", "1:30", ".inf", "-.5", "<<", "1.2.3"}) {
    EXPECT_TRUE(MayReadAsNonString(v)) << v;
  }
  for (const char* v : {"80Mi", "v1", "hello", "1a", "a1", "-", ".", "e3", "0xZZ", "nullable", "yess"}) {
    EXPECT_FALSE(MayReadAsNonString(v)) << v;
  }
}

}  // namespace
}  // namespace contrast::kube
