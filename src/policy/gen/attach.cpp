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

std::string InitdataToml(std::string_view policy) {
  std::string toml = "version = \"0.1.0\"\nalgorithm = \"sha256\"\n\n[data]\n\"policy.rego\" = ";
  if (FitsLiteralString(policy)) {
    // A newline right after the opening delimiter is trimmed by TOML, so
    // the text starts on the next line exactly as it is.
    toml += "'''\n";
    toml += policy;
    toml += "'''\n";
  } else {
    toml += BasicString(policy);
    toml += '\n';
  }
  return toml;
}

// gzip with a fixed header (no name, mtime 0, OS "unknown"), so the same
// document always gives the same bytes.
std::string Gzip(std::string_view data) {
  z_stream stream{};
  // 15 window bits + 16: gzip wrapper.
  deflateInit2(&stream, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  gz_header header{};
  header.os = 255;
  deflateSetHeader(&stream, &header);
  std::string out;
  out.resize(deflateBound(&stream, data.size()) + 32);
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

}  // namespace

Attachment AttachAsInitdata(std::string_view policy_text) {
  Attachment a;
  a.annotation_key = "io.katacontainers.config.hypervisor.cc_init_data";
  a.hashed_document = InitdataToml(policy_text);
  a.annotation_value = Base64Encode(AsBytes(Gzip(a.hashed_document)));
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
