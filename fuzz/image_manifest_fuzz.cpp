// Fuzz target: everything of the image module that parses text from a
// registry, a cache or the user (manifests, indexes, configs, layer
// summaries, WWW-Authenticate, Docker configs, image references).
#include <cstdint>
#include <cstdlib>

#include "image/image.h"
#include "image/internal.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace contrast::image;
  const std::string_view text = contrast::AsChars(contrast::ByteView(data, size));
  if (auto doc = internal::ParseManifestDocument(text); doc) {
    if (doc->kind == internal::ManifestDocument::Kind::kIndex) (void)internal::SelectPlatform(*doc);
    for (const auto& layer : doc->layers) {
      if (!internal::IsSha256Digest(layer.digest)) std::abort();
    }
  }
  (void)internal::ParseImageConfig(text);
  (void)internal::ParseWwwAuthenticate(text);
  (void)internal::ParseDockerConfig(text);
  // A cached layer summary must survive its own serialisation unchanged.
  if (auto summary = internal::ParseLayerSummary(text); summary) {
    auto again = internal::ParseLayerSummary(internal::SerializeLayerSummary(*summary));
    if (!again || !(*again == *summary)) std::abort();
  }
  // A reference that parses is a fixed point of its normalised form.
  if (size <= 1024) {
    if (auto ref = ImageReference::Parse(text); ref) {
      auto again = ImageReference::Parse(ref->String());
      if (!again || !(*again == *ref)) std::abort();
    }
  }
  return 0;
}
