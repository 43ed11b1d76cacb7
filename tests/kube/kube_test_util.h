// Helpers shared by the kube/ tests.
#pragma once

#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "kube/resources.h"

namespace contrast::kube::testing {

inline InputFile MustParse(std::string_view text, std::string path = "t.yml") {
  auto file = ParseInputFile(std::move(path), text);
  EXPECT_TRUE(file.has_value()) << (file ? "" : file.error().message);
  return file ? *file : InputFile{};
}

// The error message of parsing `text`, "" when it parses.
inline std::string ParseErrorOf(std::string_view text, std::string path = "t.yml") {
  auto file = ParseInputFile(std::move(path), text);
  return file ? std::string() : file.error().message;
}

inline std::vector<PodTemplate> MustFindWorkloads(const std::vector<InputFile>& files) {
  auto workloads = FindWorkloads(files);
  EXPECT_TRUE(workloads.has_value()) << (workloads ? "" : workloads.error().message);
  return workloads ? *workloads : std::vector<PodTemplate>{};
}

inline std::string MustRender(const InputFile& file) {
  auto rendered = RenderFile(file);
  EXPECT_TRUE(rendered.has_value()) << (rendered ? "" : rendered.error().message);
  return rendered ? rendered->text : std::string();
}

inline std::string TestdataPath(std::string_view relative) {
  return std::string(KUBE_TESTDATA_DIR) + "/" + std::string(relative);
}

}  // namespace contrast::kube::testing
