// How the runtime receives a policy: the initdata document (gzip, base64)
// or the legacy annotation, and the digest the runtime puts into HOST_DATA.
#include <string>

#include <zlib.h>

#include "common/bytes.h"
#include "crypto/hash.h"
#include "policy/gen/generator.h"

namespace contrast::policy::gen {
namespace {

// A TOML multi-line literal string holds the text as is, but it cannot
// contain ''' and TOML forbids control characters other than tab and
// newline in it (a CR is only allowed before LF).
bool FitsLiteralString(std::string_view text) {
  if (text.find("'''") != std::string_view::npos) return false;
  if (!text.empty() && text.back() == '\'') return false;  // would merge with the closing '''
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\t' || c == '\n') continue;
    if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

// A TOML basic string: every character a literal string cannot hold escaped.
std::string BasicString(std::string_view text) {
  std::string out = "\"";
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char ch : text) {
    unsigned char c = static_cast<unsigned char>(ch);
    switch (ch) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xf];
        } else {
          out += ch;
        }
    }
  }
  out += '"';
  return out;
}

constexpr std::string_view kInitdataHead = "version = \"0.1.0\"\nalgorithm = \"sha256\"\n\n[data]\n\"policy.rego\" = ";
constexpr std::string_view kLiteralQuote = "'''";

std::string InitdataToml(std::string_view policy, bool literal) {
  std::string toml(kInitdataHead);
  if (literal) {
    // A newline right after the opening delimiter is trimmed by TOML, so
    // the text starts on the next line exactly as it is.
    toml.reserve(toml.size() + policy.size() + 2 * kLiteralQuote.size() + 2);
    toml += kLiteralQuote;
    toml += '\n';
    toml += policy;
    toml += kLiteralQuote;
    toml += '\n';
  } else {
    toml += BasicString(policy);
    toml += '\n';
  }
  return toml;
}

// A deflate stream with the gzip wrapper and a fixed header (no name, mtime
// 0, OS "unknown"), so the same document always gives the same bytes.
class Deflater {
 public:
  Deflater() {
    // 15 window bits + 16: the gzip wrapper.
    ok_ = deflateInit2(&stream_, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK;
    if (!ok_) return;
    header_.os = 255;
    ok_ = deflateSetHeader(&stream_, &header_) == Z_OK;
  }
  // A copy of another stream's state, to go on from where it stopped.
  // deflateCopy only reads its source, so copies may be made concurrently.
  explicit Deflater(const Deflater& from) : header_(from.header_) {
    ok_ = from.ok_ && deflateCopy(&stream_, const_cast<z_stream*>(&from.stream_)) == Z_OK;
  }
  Deflater& operator=(const Deflater&) = delete;
  ~Deflater() { deflateEnd(&stream_); }

  bool ok() const { return ok_; }

  // Compresses `data`, appending the output to `out`; Z_FINISH ends the
  // stream, Z_NO_FLUSH keeps it open for more.
  bool Feed(std::string_view data, int flush, std::string& out) {
    if (!ok_) return false;
    stream_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    stream_.avail_in = static_cast<uInt>(data.size());
    const size_t start = out.size();
    out.resize(start + deflateBound(&stream_, data.size()) + 64);
    stream_.next_out = reinterpret_cast<Bytef*>(out.data() + start);
    stream_.avail_out = static_cast<uInt>(out.size() - start);
    const int rc = deflate(&stream_, flush);
    out.resize(out.size() - stream_.avail_out);
    return stream_.avail_in == 0 && (flush == Z_FINISH ? rc == Z_STREAM_END : rc == Z_OK);
  }

 private:
  z_stream stream_{};
  gz_header header_{};
  bool ok_ = false;
};

std::string Gzip(std::string_view data) {
  Deflater deflater;
  std::string out;
  if (!deflater.Feed(data, Z_FINISH, out)) return {};
  return out;
}

// Every pod's initdata starts with the same bytes: the TOML head and our
// rules (40 % of a typical document). They are compressed once; each pod's
// document goes on from a copy of that stream.
struct CompressedRules {
  std::string text;  // the common start of every initdata document; empty: not used
  Deflater deflater;
  std::string out;  // what the deflater wrote for `text` so far
};

const CompressedRules& Rules() {
  // Never destroyed: copies may be taken until the process ends.
  static const CompressedRules* const rules = [] {
    auto* r = new CompressedRules;
    const std::string_view default_rules = DefaultRules();
    // The rules must end in a newline, so that ''' cannot span them and the rest.
    if (FitsLiteralString(default_rules) && !default_rules.empty() && default_rules.back() == '\n') {
      r->text = std::string(kInitdataHead) + std::string(kLiteralQuote) + "\n" + std::string(default_rules);
      if (!r->deflater.Feed(r->text, Z_NO_FLUSH, r->out)) r->text.clear();
    }
    return r;
  }();
  return *rules;
}

std::string GzipInitdata(std::string_view toml) {
  const CompressedRules& rules = Rules();
  if (rules.text.empty() || toml.substr(0, rules.text.size()) != rules.text) return Gzip(toml);
  Deflater deflater(rules.deflater);
  std::string out = rules.out;
  if (!deflater.Feed(toml.substr(rules.text.size()), Z_FINISH, out)) return Gzip(toml);
  return out;
}

// FitsLiteralString, without scanning our rules again (they are known to fit).
bool PolicyFitsLiteralString(std::string_view policy) {
  const std::string_view rules = DefaultRules();
  if (!Rules().text.empty() && policy.substr(0, rules.size()) == rules) {
    return FitsLiteralString(policy.substr(rules.size()));
  }
  return FitsLiteralString(policy);
}

}  // namespace

std::string GzipForTest(std::string_view data) { return Gzip(data); }

Attachment AttachAsInitdata(std::string_view policy_text) {
  Attachment a;
  a.annotation_key = "io.katacontainers.config.hypervisor.cc_init_data";
  a.hashed_document = InitdataToml(policy_text, PolicyFitsLiteralString(policy_text));
  a.annotation_value = Base64Encode(AsBytes(GzipInitdata(a.hashed_document)));
  a.digest = crypto::Sha256(AsBytes(a.hashed_document));
  return a;
}

Attachment AttachAsLegacyAnnotation(std::string_view policy_text) {
  Attachment a;
  a.annotation_key = "io.katacontainers.config.agent.policy";
  a.hashed_document = std::string(policy_text);
  a.annotation_value = Base64Encode(AsBytes(policy_text));
  a.digest = crypto::Sha256(AsBytes(a.hashed_document));
  return a;
}

}  // namespace contrast::policy::gen
