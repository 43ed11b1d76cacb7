// The certificate table of an SEV-SNP extended report (the GHCB extended guest
// request): what `SNP_GET_EXT_REPORT` returns in its certificate buffer and
// configfs-tsm in `auxblob` for provider `sev_guest`.
//
// Layout: 24-byte entries { 16-byte GUID, u32 LE offset, u32 LE length },
// terminated by an all-zero entry; offsets count from the start of the table
// and point past the entries (and the terminator); payloads are DER
// certificates or other blobs. GUIDs are stored in RFC 4122 string order.
//
// The table comes from the host: it is hostile. Parse checks every offset and
// length against the buffer, rejects payloads that overlap the entries or
// each other, and requires the terminator. Trailing zero padding (buffers are
// page multiples) is allowed.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"

namespace contrast::attest::snp {

using CertTableGuid = std::array<uint8_t, 16>;

// The GUIDs AMD defines ("63da758d-e664-4564-adc5-f4b93be8accd" is the VCEK).
extern const CertTableGuid kGuidArk;   // c0b406a4-a803-4952-9743-3fb6014cd0ae
extern const CertTableGuid kGuidAsk;   // 4ab7b379-bbac-4fe4-a02f-05aef327c782 (also the ASVK)
extern const CertTableGuid kGuidVcek;  // 63da758d-e664-4564-adc5-f4b93be8accd
extern const CertTableGuid kGuidVlek;  // a8074bc2-a25a-483e-aae6-39c045a0b8a1

// At most this many entries are accepted (a real table has 3 or 4).
inline constexpr size_t kMaxCertTableEntries = 64;

struct CertTableEntry {
  CertTableGuid guid{};
  Bytes data;
};

struct CertTable {
  std::vector<CertTableEntry> entries;  // in table order

  // The payload of the first entry with `guid`, or nullopt.
  std::optional<Bytes> Find(const CertTableGuid& guid) const;
};

// Codes: kParse, with the entry index and what is wrong ("entry 2: offset
// 0x18 points into the table", "no terminating all-zero entry", ...). An empty
// buffer, or one that starts with the terminator, is an empty table.
Result<CertTable> ParseCertTable(ByteView buffer);

// The table's bytes: entries, terminator, then the payloads in entry order.
// Used by the emulated platform and by tests.
Bytes BuildCertTable(const CertTable& table);

// "63da758d-e664-4564-adc5-f4b93be8accd".
std::string GuidToString(const CertTableGuid& guid);

}  // namespace contrast::attest::snp
