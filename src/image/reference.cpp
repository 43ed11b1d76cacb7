// Image references: the grammar of github.com/distribution/reference, with
// Docker Hub's normalisation (docker.io, library/).
#include <algorithm>

#include "common/text.h"
#include "image/image.h"
#include "image/internal.h"

namespace contrast::image {
namespace {

constexpr size_t kMaxNameLength = 255;
constexpr size_t kMaxTagLength = 128;

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return IsLowerAlnum(c) || (c >= 'A' && c <= 'Z'); }
bool IsWordChar(char c) { return IsAlnum(c) || c == '_'; }

// alpha-numeric (separator alpha-numeric)*, separator = [_.] | __ | -+
bool IsPathComponent(std::string_view s) {
  if (s.empty() || !IsLowerAlnum(s.front()) || !IsLowerAlnum(s.back())) return false;
  size_t i = 0;
  while (i < s.size()) {
    if (IsLowerAlnum(s[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < s.size() && !IsLowerAlnum(s[j])) ++j;
    const std::string_view sep = s.substr(i, j - i);
    const bool ok =
        sep == "." || sep == "_" || sep == "__" || std::all_of(sep.begin(), sep.end(), [](char c) { return c == '-'; });
    if (!ok) return false;
    i = j;
  }
  return true;
}

// [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
bool IsDomainComponent(std::string_view s) {
  if (s.empty() || !IsAlnum(s.front()) || !IsAlnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return IsAlnum(c) || c == '-'; });
}

bool IsDomain(std::string_view domain) {
  std::string_view host = domain;
  if (!host.empty() && host.front() == '[') {
    // [IPv6]: hex digits and colons are enough for the grammar's purpose.
    const size_t close = host.find(']');
    if (close == std::string_view::npos || close < 3) return false;
    const std::string_view inside = host.substr(1, close - 1);
    if (!std::all_of(inside.begin(), inside.end(),
                     [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) || c == ':'; })) {
      return false;
    }
    host.remove_prefix(close + 1);
    if (host.empty()) return true;
    if (host.front() != ':') return false;
    const std::string_view port = host.substr(1);
    return !port.empty() && std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
  }
  const size_t colon = host.find(':');
  if (colon != std::string_view::npos) {
    const std::string_view port = host.substr(colon + 1);
    if (port.empty() || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return false;
    }
    host = host.substr(0, colon);
  }
  if (host.empty()) return false;
  size_t start = 0;
  while (true) {
    const size_t dot = host.find('.', start);
    if (!IsDomainComponent(host.substr(start, dot == std::string_view::npos ? dot : dot - start))) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

bool IsTag(std::string_view tag) {
  if (tag.empty() || tag.size() > kMaxTagLength || !IsWordChar(tag.front())) return false;
  return std::all_of(tag.begin(), tag.end(), [](char c) { return IsWordChar(c) || c == '.' || c == '-'; });
}

tl::unexpected<Error> Invalid(std::string_view text, const std::string& why) {
  return Fail(ErrorCode::kInvalidArgument, "invalid image reference \"" + PrintableExcerpt(text, 300) + "\": " + why);
}

}  // namespace

Result<ImageReference> ImageReference::Parse(std::string_view text) {
  if (text.empty()) return Invalid(text, "empty");
  ImageReference ref;
  std::string_view rest = text;
  if (const size_t at = rest.find('@'); at != std::string_view::npos) {
    const std::string_view digest = rest.substr(at + 1);
    if (digest.substr(0, 7) != "sha256:") {
      return Invalid(text, "digest \"" + PrintableExcerpt(digest) + "\" is not sha256:<64 hex>");
    }
    if (!internal::IsSha256Digest(digest)) {
      return Invalid(text,
                     "digest \"" + PrintableExcerpt(digest) + "\" is not sha256 followed by 64 lower-case hex digits");
    }
    ref.digest = std::string(digest);
    rest = rest.substr(0, at);
  }
  // A tag follows the last ':' after the last '/' (a ':' before it is a port).
  const size_t slash = rest.rfind('/');
  const size_t colon = rest.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    const std::string_view tag = rest.substr(colon + 1);
    if (!IsTag(tag)) {
      return Invalid(text, "tag \"" + PrintableExcerpt(tag) + "\" must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
    }
    ref.tag = std::string(tag);
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) return Invalid(text, "no repository name");

  // The first component is a domain when it looks like one (as Docker decides).
  std::string_view remainder = rest;
  const size_t first_slash = rest.find('/');
  if (first_slash != std::string_view::npos) {
    const std::string_view first = rest.substr(0, first_slash);
    const bool looks_like_domain = first.find_first_of(".:") != std::string_view::npos || first == "localhost" ||
                                   std::any_of(first.begin(), first.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
    if (looks_like_domain) {
      if (!IsDomain(first)) return Invalid(text, "\"" + PrintableExcerpt(first) + "\" is not a valid registry host");
      ref.domain = std::string(first);
      remainder = rest.substr(first_slash + 1);
    }
  }
  if (ref.domain.empty() || ref.domain == "index.docker.io") ref.domain = "docker.io";
  if (remainder.empty()) return Invalid(text, "no repository name");
  if (std::any_of(remainder.begin(), remainder.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
    return Invalid(text, "repository name must be lower-case");
  }
  size_t start = 0;
  while (true) {
    const size_t next = remainder.find('/', start);
    const std::string_view component =
        remainder.substr(start, next == std::string_view::npos ? std::string_view::npos : next - start);
    if (!IsPathComponent(component)) {
      return Invalid(text, "repository path component \"" + PrintableExcerpt(component) +
                               "\" must be lower-case letters and digits separated by '.', '_', '__' or '-'");
    }
    if (next == std::string_view::npos) break;
    start = next + 1;
  }
  ref.repository = std::string(remainder);
  if (ref.domain == "docker.io" && ref.repository.find('/') == std::string::npos) {
    if (ref.repository.size() == 64 && std::all_of(ref.repository.begin(), ref.repository.end(), [](char c) {
          return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
        })) {
      return Invalid(text, "a 64-character hex string is an image ID, not a repository name");
    }
    ref.repository = "library/" + ref.repository;
  }
  if (ref.Name().size() > kMaxNameLength) {
    return Invalid(text, "repository name longer than " + std::to_string(kMaxNameLength) + " characters");
  }
  return ref;
}

std::string ImageReference::Name() const { return domain + "/" + repository; }

std::string ImageReference::String() const {
  std::string out = Name();
  if (!tag.empty()) out += ":" + tag;
  if (!digest.empty()) out += "@" + digest;
  return out;
}

std::string ImageReference::CriName() const {
  if (tag.empty() && digest.empty()) return Name() + ":latest";
  return String();
}

ImageReference ResolvedImage::Pinned() const {
  ImageReference pinned = reference;
  pinned.digest = digest;
  return pinned;
}

}  // namespace contrast::image
