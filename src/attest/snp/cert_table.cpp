#include "attest/snp/cert_table.h"

#include <algorithm>
#include <cstdio>
#include <utility>

namespace contrast::attest::snp {

// GUID bytes in RFC 4122 string order: the hex digits of the text form, without dashes.
const CertTableGuid kGuidArk = {0xc0, 0xb4, 0x06, 0xa4, 0xa8, 0x03, 0x49, 0x52,
                                0x97, 0x43, 0x3f, 0xb6, 0x01, 0x4c, 0xd0, 0xae};
const CertTableGuid kGuidAsk = {0x4a, 0xb7, 0xb3, 0x79, 0xbb, 0xac, 0x4f, 0xe4,
                                0xa0, 0x2f, 0x05, 0xae, 0xf3, 0x27, 0xc7, 0x82};
const CertTableGuid kGuidVcek = {0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64,
                                 0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd};
const CertTableGuid kGuidVlek = {0xa8, 0x07, 0x4b, 0xc2, 0xa2, 0x5a, 0x48, 0x3e,
                                 0xaa, 0xe6, 0x39, 0xc0, 0x45, 0xa0, 0xb8, 0xa1};

namespace {

constexpr size_t kEntrySize = 24;
constexpr size_t kGuidSize = 16;

uint32_t ReadLe32(ByteView b, size_t at) {
  return static_cast<uint32_t>(b[at]) | static_cast<uint32_t>(b[at + 1]) << 8 | static_cast<uint32_t>(b[at + 2]) << 16 |
         static_cast<uint32_t>(b[at + 3]) << 24;
}

void AppendLe32(Bytes& out, uint32_t v) {
  for (int shift = 0; shift < 32; shift += 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

bool AllZero(ByteView b) {
  return std::all_of(b.begin(), b.end(), [](uint8_t x) { return x == 0; });
}

std::string Hex32(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

struct RawEntry {
  CertTableGuid guid{};
  uint32_t offset = 0;
  uint32_t length = 0;
};

}  // namespace

std::optional<Bytes> CertTable::Find(const CertTableGuid& guid) const {
  for (const auto& entry : entries) {
    if (entry.guid == guid) return entry.data;
  }
  return std::nullopt;
}

Result<CertTable> ParseCertTable(ByteView buffer) {
  // Pass 1: the entries up to and including the terminator.
  std::vector<RawEntry> raw;
  bool terminated = false;
  size_t at = 0;
  while (true) {
    if (buffer.size() - at < kEntrySize) {
      // An empty buffer is an empty table (the host offered no certificates);
      // anything else that ends mid-entry or before a terminator is malformed.
      if (at == 0 && buffer.empty()) return CertTable{};
      if (buffer.size() != at) {
        return Fail(ErrorCode::kParse, "certificate table: entry " + std::to_string(raw.size()) + " is truncated (" +
                                           std::to_string(buffer.size() - at) + " of " + std::to_string(kEntrySize) +
                                           " bytes)");
      }
      break;
    }
    const ByteView entry = buffer.subspan(at, kEntrySize);
    at += kEntrySize;
    if (AllZero(entry)) {
      terminated = true;
      break;
    }
    if (raw.size() == kMaxCertTableEntries) {
      return Fail(ErrorCode::kParse, "certificate table: more than " + std::to_string(kMaxCertTableEntries) +
                                         " entries before the terminator");
    }
    RawEntry e;
    std::copy_n(entry.begin(), kGuidSize, e.guid.begin());
    e.offset = ReadLe32(entry, kGuidSize);
    e.length = ReadLe32(entry, kGuidSize + 4);
    raw.push_back(e);
  }
  if (!terminated) {
    return Fail(ErrorCode::kParse,
                "certificate table: no terminating all-zero entry after " + std::to_string(raw.size()) + " entries");
  }
  const size_t entries_end = at;  // payloads must start at or after this

  // Pass 2: every payload inside the buffer, past the entries, and disjoint.
  // Bytes no entry covers (page padding, gaps) are ignored: nothing reads them.
  // 64-bit arithmetic: offset + length of two u32 cannot overflow.
  CertTable table;
  table.entries.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    const RawEntry& e = raw[i];
    const std::string where = "certificate table: entry " + std::to_string(i) + " (" + GuidToString(e.guid) + "): ";
    const uint64_t begin = e.offset;
    const uint64_t end = begin + static_cast<uint64_t>(e.length);
    if (begin < entries_end) {
      return Fail(ErrorCode::kParse, where + "offset " + Hex32(begin) + " points into the table (entries end at " +
                                         Hex32(entries_end) + ")");
    }
    if (end > buffer.size()) {
      return Fail(ErrorCode::kParse, where + "offset " + Hex32(begin) + " + length " + Hex32(e.length) +
                                         " is past the end of the " + std::to_string(buffer.size()) + "-byte buffer");
    }
    for (size_t j = 0; j < i; ++j) {
      const uint64_t other_begin = raw[j].offset;
      const uint64_t other_end = other_begin + raw[j].length;
      // Empty payloads occupy no bytes and overlap nothing.
      if (begin < other_end && other_begin < end) {
        return Fail(ErrorCode::kParse, where + "payload [" + Hex32(begin) + ", " + Hex32(end) + ") overlaps entry " +
                                           std::to_string(j) + " [" + Hex32(other_begin) + ", " + Hex32(other_end) +
                                           ")");
      }
    }
    CertTableEntry out;
    out.guid = e.guid;
    out.data.assign(buffer.begin() + static_cast<std::ptrdiff_t>(begin),
                    buffer.begin() + static_cast<std::ptrdiff_t>(end));
    table.entries.push_back(std::move(out));
  }
  return table;
}

Bytes BuildCertTable(const CertTable& table) {
  const size_t header = (table.entries.size() + 1) * kEntrySize;
  Bytes out;
  size_t payload_size = 0;
  for (const auto& entry : table.entries) payload_size += entry.data.size();
  out.reserve(header + payload_size);
  size_t offset = header;
  for (const auto& entry : table.entries) {
    out.insert(out.end(), entry.guid.begin(), entry.guid.end());
    AppendLe32(out, static_cast<uint32_t>(offset));
    AppendLe32(out, static_cast<uint32_t>(entry.data.size()));
    offset += entry.data.size();
  }
  out.resize(header, 0);  // the terminator
  for (const auto& entry : table.entries) out.insert(out.end(), entry.data.begin(), entry.data.end());
  return out;
}

std::string GuidToString(const CertTableGuid& guid) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  s.reserve(36);
  for (size_t i = 0; i < guid.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s.push_back('-');
    s.push_back(kHex[guid[i] >> 4]);
    s.push_back(kHex[guid[i] & 0xf]);
  }
  return s;
}

}  // namespace contrast::attest::snp
