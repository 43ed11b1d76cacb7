// Fuzz target: the layer scanner (gzip → tar → /etc/passwd, /etc/group,
// whiteouts). Fed at once and in chunks, it must reach the same verdict.
#include <cstdint>
#include <cstdlib>

#include "image/internal.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace contrast::image::internal;
  const contrast::ByteView input(data, size);
  auto whole = ScanLayer(input);
  // Chunk size from the last byte, so the split points vary with the input.
  const size_t chunk = size == 0 ? 1 : 1 + data[size - 1] % 97;
  LayerScanner scanner;
  contrast::Status status;
  for (size_t i = 0; i < size && status; i += chunk) status = scanner.Feed(input.subspan(i, std::min(chunk, size - i)));
  if (status) status = scanner.Finish();
  if (static_cast<bool>(whole) != static_cast<bool>(status)) std::abort();
  if (whole && !(*whole == scanner.summary())) std::abort();
  for (const auto* entry : {whole ? &whole->passwd : nullptr, whole ? &whole->group : nullptr}) {
    if (entry != nullptr && entry->content && entry->content->size() > kMaxImageFileSize) std::abort();
  }
  return 0;
}
