#include "attest/snp/cert_table.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "crypto/x509.h"
#include "support/testdata.h"

namespace contrast::attest::snp {
namespace {

using contrast::testing::ReadTestdata;
using ::testing::HasSubstr;

Bytes PemToDer(const std::string& relative_path) {
  const Bytes pem = ReadTestdata(relative_path);
  auto cert = crypto::Certificate::ParsePem(AsChars(pem));
  EXPECT_TRUE(cert.has_value()) << relative_path << ": " << (cert ? "" : cert.error().message);
  return cert ? cert->Der() : Bytes{};
}

// The table a Milan host hands out: VCEK, ASK, ARK (real certificates).
CertTable RealMilanTable() {
  CertTable table;
  table.entries.push_back({kGuidVcek, ReadTestdata("snp/virtee_vcek_milan.der")});
  table.entries.push_back({kGuidAsk, PemToDer("snp/ask_milan.pem")});
  table.entries.push_back({kGuidArk, PemToDer("snp/ark_milan.pem")});
  return table;
}

void PutLe32(Bytes& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + static_cast<size_t>(i)] = static_cast<uint8_t>(v >> (8 * i));
}

// A table of `n` entries with 8-byte payloads, built by hand so tests can then
// corrupt one field.
Bytes SmallTable(size_t n) {
  CertTable table;
  for (size_t i = 0; i < n; ++i) {
    CertTableGuid guid{};
    guid[0] = static_cast<uint8_t>(i + 1);
    table.entries.push_back({guid, Bytes(8, static_cast<uint8_t>(0xa0 + i))});
  }
  return BuildCertTable(table);
}

constexpr size_t kOffsetField = 16;
constexpr size_t kLengthField = 20;
constexpr size_t kEntry = 24;

TEST(CertTable, GuidStringsMatchAmdDefinitions) {
  EXPECT_EQ(GuidToString(kGuidVcek), "63da758d-e664-4564-adc5-f4b93be8accd");
  EXPECT_EQ(GuidToString(kGuidVlek), "a8074bc2-a25a-483e-aae6-39c045a0b8a1");
  EXPECT_EQ(GuidToString(kGuidAsk), "4ab7b379-bbac-4fe4-a02f-05aef327c782");
  EXPECT_EQ(GuidToString(kGuidArk), "c0b406a4-a803-4952-9743-3fb6014cd0ae");
}

TEST(CertTable, RealCertificatesRoundTrip) {
  CONTRAST_REQUIRE_TESTDATA();
  const CertTable table = RealMilanTable();
  const Bytes bytes = BuildCertTable(table);
  // Entries (3 + terminator) come first; the first payload starts right after.
  ASSERT_GE(bytes.size(), 4 * kEntry);
  EXPECT_EQ(bytes[kOffsetField], 4 * kEntry);

  auto parsed = ParseCertTable(bytes);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  ASSERT_EQ(parsed->entries.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(parsed->entries[i].guid, table.entries[i].guid);
    EXPECT_EQ(parsed->entries[i].data, table.entries[i].data);
  }
  EXPECT_EQ(BuildCertTable(*parsed), bytes);

  auto vcek = parsed->Find(kGuidVcek);
  ASSERT_TRUE(vcek.has_value());
  EXPECT_TRUE(crypto::Certificate::ParseDer(*vcek).has_value());
  auto ark = parsed->Find(kGuidArk);
  ASSERT_TRUE(ark.has_value());
  auto ark_cert = crypto::Certificate::ParseDer(*ark);
  ASSERT_TRUE(ark_cert.has_value());
  EXPECT_EQ(ark_cert->SubjectCommonName(), "ARK-Milan");
  EXPECT_FALSE(parsed->Find(kGuidVlek).has_value());
}

TEST(CertTable, PagePaddingIsAccepted) {
  CONTRAST_REQUIRE_TESTDATA();
  Bytes bytes = BuildCertTable(RealMilanTable());
  bytes.resize((bytes.size() + 4095) / 4096 * 4096, 0);
  auto parsed = ParseCertTable(bytes);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  EXPECT_EQ(parsed->entries.size(), 3u);
}

TEST(CertTable, EmptyBufferAndBareTerminatorAreEmptyTables) {
  auto empty = ParseCertTable({});
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE(empty->entries.empty());
  const Bytes page(4096, 0);
  auto zeros = ParseCertTable(page);
  ASSERT_TRUE(zeros.has_value());
  EXPECT_TRUE(zeros->entries.empty());
  EXPECT_EQ(BuildCertTable(CertTable{}), Bytes(kEntry, 0));
}

TEST(CertTable, FindReturnsTheFirstMatch) {
  CertTable table;
  table.entries.push_back({kGuidVcek, Bytes{1}});
  table.entries.push_back({kGuidVcek, Bytes{2}});
  auto parsed = ParseCertTable(BuildCertTable(table));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->Find(kGuidVcek), Bytes{1});
}

TEST(CertTable, ZeroLengthPayloadIsAccepted) {
  CertTable table;
  table.entries.push_back({kGuidVcek, Bytes{}});
  table.entries.push_back({kGuidAsk, Bytes{7, 7}});
  auto parsed = ParseCertTable(BuildCertTable(table));
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  EXPECT_EQ(parsed->Find(kGuidVcek), Bytes{});
  EXPECT_EQ(parsed->Find(kGuidAsk), (Bytes{7, 7}));
}

void ExpectParseError(const Bytes& bytes, const std::string& fragment) {
  auto parsed = ParseCertTable(bytes);
  ASSERT_FALSE(parsed.has_value());
  EXPECT_EQ(parsed.error().code, ErrorCode::kParse);
  EXPECT_THAT(parsed.error().message, HasSubstr(fragment));
}

TEST(CertTable, RejectsOverlappingPayloads) {
  Bytes bytes = SmallTable(2);
  // Entry 1 starts four bytes into entry 0's payload.
  PutLe32(bytes, kEntry + kOffsetField, 3 * kEntry + 4);
  ExpectParseError(bytes, "entry 1");
  ExpectParseError(bytes, "overlaps entry 0");
}

TEST(CertTable, RejectsIdenticalPayloadRanges) {
  Bytes bytes = SmallTable(2);
  PutLe32(bytes, kEntry + kOffsetField, 3 * kEntry);
  ExpectParseError(bytes, "overlaps entry 0");
}

TEST(CertTable, RejectsOffsetIntoTheEntries) {
  Bytes bytes = SmallTable(2);
  // Points at the terminator: the payload would alias table structure.
  PutLe32(bytes, kEntry + kOffsetField, 2 * kEntry);
  ExpectParseError(bytes, "entry 1");
  ExpectParseError(bytes, "offset 0x30 points into the table");
}

TEST(CertTable, RejectsOffsetZero) {
  Bytes bytes = SmallTable(1);
  PutLe32(bytes, kOffsetField, 0);
  ExpectParseError(bytes, "entry 0");
  ExpectParseError(bytes, "points into the table");
}

TEST(CertTable, RejectsPayloadPastTheEnd) {
  Bytes bytes = SmallTable(2);
  PutLe32(bytes, kEntry + kLengthField, 9);  // one byte more than the buffer holds
  ExpectParseError(bytes, "entry 1");
  ExpectParseError(bytes, "past the end");
}

TEST(CertTable, RejectsLengthThatWouldOverflow) {
  Bytes bytes = SmallTable(1);
  PutLe32(bytes, kLengthField, 0xFFFFFFFF);
  ExpectParseError(bytes, "length 0xffffffff");
  Bytes far = SmallTable(1);
  PutLe32(far, kOffsetField, 0xFFFFFFF0);
  PutLe32(far, kLengthField, 0x20);  // offset + length wraps in 32 bits
  ExpectParseError(far, "past the end");
}

TEST(CertTable, RejectsMissingTerminator) {
  // Two entries and exactly their bytes: no all-zero entry anywhere.
  Bytes bytes(2 * kEntry, 0);
  bytes[0] = 1;
  bytes[kEntry] = 2;
  ExpectParseError(bytes, "no terminating all-zero entry");
}

TEST(CertTable, RejectsTruncatedEntry) {
  Bytes bytes = SmallTable(1);
  bytes.resize(kEntry + 10);  // entry 0 whole, the terminator cut short
  ExpectParseError(bytes, "entry 1 is truncated (10 of 24 bytes)");
  Bytes short_first(5, 0xff);
  ExpectParseError(short_first, "entry 0 is truncated");
}

TEST(CertTable, RejectsTooManyEntries) {
  const Bytes at_limit = SmallTable(kMaxCertTableEntries);
  auto parsed = ParseCertTable(at_limit);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  EXPECT_EQ(parsed->entries.size(), kMaxCertTableEntries);
  // The same with one more GUID-bearing entry in place of the terminator.
  Bytes over = SmallTable(kMaxCertTableEntries + 1);
  ExpectParseError(over, "more than 64 entries");
}

}  // namespace
}  // namespace contrast::attest::snp
