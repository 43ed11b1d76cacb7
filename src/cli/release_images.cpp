#include "cli/release_images.h"

#include <nlohmann/json.hpp>

#include "common/files.h"
#include "image/image.h"

namespace contrast::cli {
namespace {

// A pinned reference or an error naming the member: a tag alone could be
// moved to other content after the policies were written.
Result<std::string> PinnedMember(const nlohmann::json& object, const char* member) {
  auto it = object.find(member);
  if (it == object.end() || !it->is_string()) {
    return Fail(ErrorCode::kParse, std::string("\"") + member + "\" is missing or not a string");
  }
  const std::string text = it->get<std::string>();
  auto reference = image::ImageReference::Parse(text);
  if (!reference) return Fail(reference.error().Wrap(std::string("\"") + member + "\""));
  if (reference->digest.empty()) {
    return Fail(ErrorCode::kParse,
                std::string("\"") + member + "\": " + text + " has no digest (expected name:tag@sha256:...)");
  }
  return text;
}

}  // namespace

Result<ReleaseImages> ParseReleaseImages(std::string_view json) {
  const nlohmann::json document = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) return Fail(ErrorCode::kParse, "not valid JSON");
  if (!document.is_object()) return Fail(ErrorCode::kParse, "expected a JSON object of component -> image");
  ReleaseImages images;
  auto coordinator = PinnedMember(document, "coordinator");
  if (!coordinator) return Fail(coordinator.error());
  images.coordinator = std::move(*coordinator);
  auto initializer = PinnedMember(document, "initializer");
  if (!initializer) return Fail(initializer.error());
  images.initializer = std::move(*initializer);
  return images;
}

Result<ReleaseImages> LoadReleaseImages(const std::filesystem::path& path) {
  auto text = ReadTextFile(path, 64 * 1024);
  if (!text) return Fail(text.error().Wrap("images file"));
  auto images = ParseReleaseImages(*text);
  if (!images) return Fail(images.error().Wrap("images file " + path.string()));
  return images;
}

}  // namespace contrast::cli
