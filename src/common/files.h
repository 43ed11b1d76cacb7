// Files: bounded reads and atomic writes (never a half-written file).
#pragma once

#include <cstddef>
#include <filesystem>

#include "common/bytes.h"

namespace contrast {

// Default upper bound for files we read whole: attestation artefacts,
// certificates, manifests. Larger files are rejected rather than slurped.
inline constexpr size_t kDefaultMaxFileSize = 64 * 1024 * 1024;

Result<Bytes> ReadFile(const std::filesystem::path& path, size_t max_size = kDefaultMaxFileSize);
Result<std::string> ReadTextFile(const std::filesystem::path& path, size_t max_size = kDefaultMaxFileSize);

// Writes to a temporary file in the same directory, fsyncs it, renames it over
// `path` and fsyncs the directory: readers see the old or the new content,
// never a mix. `mode` applies to the new file (e.g. 0400 for keys).
Status WriteFileAtomic(const std::filesystem::path& path, ByteView data, unsigned mode = 0644);
Status WriteFileAtomic(const std::filesystem::path& path, std::string_view text, unsigned mode = 0644);

}  // namespace contrast
