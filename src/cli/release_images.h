// The images file scripts/images writes after building and pushing
// Contrast's own images: each component's pinned reference,
//   {"coordinator": "registry.example/contrast/coordinator:v0.1.0@sha256:…",
//    "initializer": "registry.example/contrast/initializer:v0.1.0@sha256:…",
//    "port-forwarder": "…"}
// `contrast generate --images FILE` injects that Initializer and runs that
// Coordinator, so the policies pin exactly the images that were built.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "common/result.h"

namespace contrast::cli {

struct ReleaseImages {
  std::string coordinator;  // "name[:tag]@sha256:<64 hex>"
  std::string initializer;
};

// A JSON object with string members "coordinator" and "initializer", each a
// valid image reference with a digest (other members are ignored). Anything
// else is an error naming the member.
Result<ReleaseImages> ParseReleaseImages(std::string_view json);

// Reads and parses the file (at most 64 KiB); errors name the file.
Result<ReleaseImages> LoadReleaseImages(const std::filesystem::path& path);

}  // namespace contrast::cli
