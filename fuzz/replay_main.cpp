// Replay driver for fuzz targets built without libFuzzer (g++ builds).
//
// Runs every file given (directories are walked) through the target, then
// single-byte mutations (every byte of seeds up to 1 KiB, an even spread of
// 1024 positions in larger ones) and truncations of each seed up to 8 KiB, so
// the smoke test covers far more than the seeds themselves.
// Exit 77 (skipped) when no seed exists and CI is not "true".
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string_view>
#include <vector>

#include "common/files.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

void RunMutations(const contrast::Bytes& seed, size_t& runs) {
  constexpr size_t kMaxMutatedSeed = 8 * 1024;
  if (seed.size() > kMaxMutatedSeed) return;
  contrast::Bytes copy = seed;
  const size_t stride = std::max<size_t>(1, copy.size() / 1024);
  for (size_t i = 0; i < copy.size(); i += stride) {
    for (uint8_t flip : {uint8_t{0x01}, uint8_t{0x80}, uint8_t{0xFF}}) {
      copy[i] ^= flip;
      LLVMFuzzerTestOneInput(copy.data(), copy.size());
      copy[i] ^= flip;
      ++runs;
    }
  }
  for (size_t len = 0; len < seed.size(); len += 1 + len / 8) {
    LLVMFuzzerTestOneInput(seed.data(), len);
    ++runs;
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::filesystem::path> files;
  for (int i = 1; i < argc; ++i) {
    std::error_code ec;
    const std::filesystem::path arg = argv[i];
    if (std::filesystem::is_directory(arg, ec)) {
      for (const auto& entry : std::filesystem::recursive_directory_iterator(arg, ec)) {
        if (entry.is_regular_file()) files.push_back(entry.path());
      }
    } else if (std::filesystem::is_regular_file(arg, ec)) {
      files.push_back(arg);
    }
  }
  if (files.empty()) {
    const char* ci = std::getenv("CI");
    std::fprintf(stderr, "no seed files found (is ../shared/testdata there?)\n");
    return ci != nullptr && std::string_view(ci) == "true" ? 1 : 77;
  }
  size_t runs = 0;
  for (const auto& file : files) {
    auto bytes = contrast::ReadFile(file);
    if (!bytes) {
      std::fprintf(stderr, "cannot read %s: %s\n", file.c_str(), bytes.error().message.c_str());
      return 1;
    }
    LLVMFuzzerTestOneInput(bytes->data(), bytes->size());
    ++runs;
    RunMutations(*bytes, runs);
  }
  std::printf("replayed %zu seeds, %zu inputs, no crash\n", files.size(), runs);
  return 0;
}
