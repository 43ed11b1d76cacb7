// A streaming scanner of image layers (gzip → tar) that keeps only what
// decides /etc/passwd and /etc/group: the files and their whiteouts.
#include <algorithm>
#include <cstring>

#include "common/text.h"
#include "image/internal.h"

namespace contrast::image::internal {
namespace {

constexpr size_t kBlock = 512;
// GNU long names and PAX headers larger than this are refused.
constexpr size_t kMaxMetadataSize = 1024 * 1024;

enum class Target { kNone, kPasswd, kGroup };

// "./etc//passwd" and "/etc/passwd" are "etc/passwd"; a trailing '/' goes.
std::string NormalisePath(std::string_view path) {
  std::string out;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    const std::string_view part = path.substr(start, slash - start);
    if (!part.empty() && part != ".") {
      if (!out.empty()) out += '/';
      out += part;
    }
    start = slash + 1;
  }
  return out;
}

std::string FieldString(const uint8_t* field, size_t size) {
  const auto* begin = reinterpret_cast<const char*>(field);
  return std::string(begin, strnlen(begin, size));
}

// Octal (NUL/space padded) or, with the high bit set, GNU base-256.
Result<uint64_t> ParseNumeric(const uint8_t* field, size_t size, std::string_view what) {
  if ((field[0] & 0x80) != 0) {
    if ((field[0] & 0x40) != 0) return Fail(ErrorCode::kParse, "tar header: negative " + std::string(what));
    uint64_t value = field[0] & 0x3f;
    for (size_t i = 1; i < size; ++i) {
      if (value > (UINT64_MAX >> 9)) return Fail(ErrorCode::kParse, "tar header: " + std::string(what) + " too large");
      value = (value << 8) | field[i];
    }
    return value;
  }
  size_t i = 0;
  while (i < size && (field[i] == ' ' || field[i] == 0)) ++i;
  uint64_t value = 0;
  bool digits = false;
  for (; i < size && field[i] != 0 && field[i] != ' '; ++i) {
    if (field[i] < '0' || field[i] > '7') {
      return Fail(ErrorCode::kParse, "tar header: " + std::string(what) + " is not an octal number");
    }
    if (value > (UINT64_MAX >> 4)) return Fail(ErrorCode::kParse, "tar header: " + std::string(what) + " too large");
    value = value * 8 + static_cast<uint64_t>(field[i] - '0');
    digits = true;
  }
  if (!digits) return uint64_t{0};
  return value;
}

// Types that carry no data whatever their size field says (as Go's
// archive/tar reads them, which is what built the layers).
bool IsHeaderOnly(char type) {
  return type == '1' || type == '2' || type == '3' || type == '4' || type == '5' || type == '6';
}

bool IsRegular(char type) { return type == '0' || type == '\0' || type == '7'; }

}  // namespace

LayerScanner::LayerScanner() = default;

LayerScanner::~LayerScanner() {
  if (zstream_) inflateEnd(zstream_.get());
}

Status LayerScanner::Feed(ByteView data) {
  if (compression_ == Compression::kUnknown) {
    magic_.insert(magic_.end(), data.begin(), data.end());
    if (magic_.size() < 4) return {};
    if (magic_[0] == 0x28 && magic_[1] == 0xb5 && magic_[2] == 0x2f && magic_[3] == 0xfd) {
      return Fail(ErrorCode::kUnsupported, "zstd-compressed layers are not supported");
    }
    if (magic_[0] == 0x1f && magic_[1] == 0x8b) {
      compression_ = Compression::kGzip;
      zstream_ = std::make_unique<z_stream>();
      std::memset(zstream_.get(), 0, sizeof(z_stream));
      if (inflateInit2(zstream_.get(), 15 + 16) != Z_OK) {
        zstream_.reset();
        return Fail(ErrorCode::kInternal, "inflateInit2 failed");
      }
    } else {
      compression_ = Compression::kNone;
    }
    Bytes buffered;
    buffered.swap(magic_);
    return Feed(buffered);
  }
  if (compression_ == Compression::kNone) return FeedTar(data);

  z_stream& z = *zstream_;
  z.next_in = const_cast<Bytef*>(data.data());
  z.avail_in = static_cast<uInt>(data.size());
  uint8_t out[64 * 1024];
  while (z.avail_in > 0) {
    if (gzip_member_ended_) {
      // After the tar end marker, anything (padding, another member) is
      // irrelevant; before it, the next gzip member continues the stream.
      if (ended_) return {};
      if (inflateReset(&z) != Z_OK) return Fail(ErrorCode::kInternal, "inflateReset failed");
      gzip_member_ended_ = false;
    }
    z.next_out = out;
    z.avail_out = sizeof(out);
    const int rc = inflate(&z, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
      return Fail(ErrorCode::kParse,
                  std::string("layer is not valid gzip: ") + (z.msg != nullptr ? z.msg : "inflate failed"));
    }
    const size_t produced = sizeof(out) - z.avail_out;
    if (produced > 0) {
      if (auto status = FeedTar(ByteView(out, produced)); !status) return status;
    }
    if (rc == Z_STREAM_END) gzip_member_ended_ = true;
    if (rc == Z_BUF_ERROR && produced == 0) break;
  }
  return {};
}

Status LayerScanner::Finish() {
  if (compression_ == Compression::kUnknown && !magic_.empty()) {
    // Fewer than four bytes: not gzip, so plain tar (which is then truncated).
    compression_ = Compression::kNone;
    Bytes buffered;
    buffered.swap(magic_);
    if (auto status = FeedTar(buffered); !status) return status;
  }
  if (compression_ == Compression::kGzip && !gzip_member_ended_ && !ended_) {
    return Fail(ErrorCode::kParse, "layer's gzip stream is truncated");
  }
  if (!ended_ && (in_data_ || !block_.empty())) return Fail(ErrorCode::kParse, "layer's tar stream is truncated");
  return {};
}

Status LayerScanner::FeedTar(ByteView data) {
  while (!data.empty() && !ended_) {
    if (in_data_) {
      const uint64_t take = std::min<uint64_t>(remaining_ + padding_, data.size());
      const uint64_t data_part = std::min<uint64_t>(take, remaining_);
      if (keep_data_ && data_part > 0) entry_data_.insert(entry_data_.end(), data.begin(), data.begin() + data_part);
      remaining_ -= data_part;
      padding_ -= take - data_part;
      data = data.subspan(take);
      if (remaining_ == 0 && padding_ == 0) {
        in_data_ = false;
        if (auto status = HandleEntryData(); !status) return status;
      }
      continue;
    }
    const size_t take = std::min(kBlock - block_.size(), data.size());
    block_.insert(block_.end(), data.begin(), data.begin() + take);
    data = data.subspan(take);
    if (block_.size() == kBlock) {
      auto status = HandleHeader();
      block_.clear();
      if (!status) return status;
    }
  }
  return {};
}

Status LayerScanner::HandleHeader() {
  const uint8_t* h = block_.data();
  if (std::all_of(block_.begin(), block_.end(), [](uint8_t b) { return b == 0; })) {
    ended_ = true;
    return {};
  }
  auto checksum = ParseNumeric(h + 148, 8, "checksum");
  if (!checksum) return Fail(checksum.error());
  uint64_t unsigned_sum = 0;
  int64_t signed_sum = 0;
  for (size_t i = 0; i < kBlock; ++i) {
    const uint8_t b = (i >= 148 && i < 156) ? uint8_t{' '} : h[i];
    unsigned_sum += b;
    signed_sum += static_cast<int8_t>(b);
  }
  if (*checksum != unsigned_sum && static_cast<int64_t>(*checksum) != signed_sum) {
    return Fail(ErrorCode::kParse, "tar header checksum mismatch (the layer is not a tar archive or is corrupt)");
  }
  auto size = ParseNumeric(h + 124, 12, "size");
  if (!size) return Fail(size.error());
  entry_type_ = static_cast<char>(h[156]);

  std::string name = FieldString(h, 100);
  const bool posix_ustar = std::memcmp(h + 257, "ustar\0", 6) == 0;
  if (posix_ustar) {
    const std::string prefix = FieldString(h + 345, 155);
    if (!prefix.empty()) name = prefix + "/" + name;
  }
  uint64_t data_size = *size;
  if (entry_type_ != 'L' && entry_type_ != 'K' && entry_type_ != 'x' && entry_type_ != 'g') {
    if (next_path_) name = *next_path_;
    if (next_size_) data_size = *next_size_;
    next_path_.reset();
    next_size_.reset();
    if (IsHeaderOnly(entry_type_)) data_size = 0;
  }
  entry_path_ = NormalisePath(name);
  keep_data_ = false;
  entry_data_.clear();
  switch (entry_type_) {
    case 'L':
    case 'x':
      if (data_size > kMaxMetadataSize) {
        return Fail(ErrorCode::kParse,
                    "tar: extended header larger than " + std::to_string(kMaxMetadataSize) + " bytes");
      }
      keep_data_ = true;
      break;
    case 'K':
    case 'g': break;
    default:
      Note(entry_path_, entry_type_);
      if (keep_data_ && data_size > kMaxImageFileSize) {
        return Fail(ErrorCode::kParse,
                    "/" + entry_path_ + " is larger than " + std::to_string(kMaxImageFileSize) + " bytes");
      }
      break;
  }
  remaining_ = data_size;
  padding_ = (kBlock - data_size % kBlock) % kBlock;
  if (remaining_ + padding_ == 0) return HandleEntryData();
  in_data_ = true;
  return {};
}

void LayerScanner::Note(const std::string& path, char type) {
  auto hide = [](LayerEntry& e) {
    if (e.state == LayerEntry::State::kAbsent) e.state = LayerEntry::State::kWhiteout;
  };
  if (path == "etc/passwd" || path == "etc/group") {
    LayerEntry& e = path == "etc/passwd" ? summary_.passwd : summary_.group;
    // A later entry for the same path replaces an earlier one in the layer.
    e.state = LayerEntry::State::kFound;
    e.content.reset();
    keep_data_ = IsRegular(type);
  } else if (path == "etc/.wh.passwd") {
    hide(summary_.passwd);
  } else if (path == "etc/.wh.group") {
    hide(summary_.group);
  } else if (path == "etc/.wh..wh..opq" || path == ".wh.etc" || path == ".wh..wh..opq" ||
             (path == "etc" && type != '5')) {
    // The whole directory is replaced: lower layers' files are hidden.
    hide(summary_.passwd);
    hide(summary_.group);
  }
}

Status LayerScanner::HandleEntryData() {
  if (!keep_data_) return {};
  keep_data_ = false;
  if (entry_type_ == 'L') {
    const std::string_view text = AsChars(entry_data_);
    next_path_ = std::string(text.substr(0, text.find('\0')));
    return {};
  }
  if (entry_type_ == 'x') {
    // Records: "<length> <key>=<value>\n", the length counting the whole record.
    std::string_view rest = AsChars(entry_data_);
    while (!rest.empty()) {
      const size_t space = rest.find(' ');
      if (space == std::string_view::npos || space == 0 || space > 20) {
        return Fail(ErrorCode::kParse, "tar: malformed PAX record");
      }
      uint64_t length = 0;
      for (char c : rest.substr(0, space)) {
        if (c < '0' || c > '9') return Fail(ErrorCode::kParse, "tar: malformed PAX record length");
        length = length * 10 + static_cast<uint64_t>(c - '0');
      }
      if (length <= space + 1 || length > rest.size() || rest[length - 1] != '\n') {
        return Fail(ErrorCode::kParse, "tar: malformed PAX record");
      }
      const std::string_view record = rest.substr(space + 1, length - space - 2);
      rest.remove_prefix(length);
      const size_t eq = record.find('=');
      if (eq == std::string_view::npos) return Fail(ErrorCode::kParse, "tar: PAX record without '='");
      const std::string_view key = record.substr(0, eq);
      const std::string_view value = record.substr(eq + 1);
      if (key == "path") {
        next_path_ = std::string(value);
      } else if (key == "size") {
        uint64_t size = 0;
        if (value.empty() || value.size() > 19) return Fail(ErrorCode::kParse, "tar: PAX size is not a number");
        for (char c : value) {
          if (c < '0' || c > '9') return Fail(ErrorCode::kParse, "tar: PAX size is not a number");
          size = size * 10 + static_cast<uint64_t>(c - '0');
        }
        next_size_ = size;
      }
    }
    return {};
  }
  // etc/passwd or etc/group: the data was bounded when the header was read.
  LayerEntry& e = entry_path_ == "etc/passwd" ? summary_.passwd : summary_.group;
  e.content = std::string(AsChars(entry_data_));
  entry_data_.clear();
  return {};
}

Result<LayerSummary> ScanLayer(ByteView layer) {
  LayerScanner scanner;
  if (auto status = scanner.Feed(layer); !status) return Fail(status.error());
  if (auto status = scanner.Finish(); !status) return Fail(status.error());
  return scanner.summary();
}

}  // namespace contrast::image::internal
