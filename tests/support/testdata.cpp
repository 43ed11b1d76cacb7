#include "support/testdata.h"

#include <cstdlib>
#include <string_view>

#include "common/files.h"

namespace contrast::testing {

std::filesystem::path TestdataDir() {
  const char* env = std::getenv("CONTRAST_TESTDATA_DIR");
  std::filesystem::path dir = env != nullptr && *env != '\0' ? env : "../shared/testdata";
  std::error_code ec;
  if (std::filesystem::is_directory(dir / "snp", ec)) return dir;
  const char* ci = std::getenv("CI");
  if (ci != nullptr && std::string_view(ci) == "true") {
    ADD_FAILURE() << "shared test data is missing at " << dir << " and CI=true: refusing to skip";
  }
  return {};
}

Bytes ReadTestdata(const std::string& relative_path) {
  const auto dir = TestdataDir();
  if (dir.empty()) return {};
  auto bytes = ReadFile(dir / relative_path);
  if (!bytes) {
    ADD_FAILURE() << "cannot read test data " << relative_path << ": " << bytes.error().message;
    return {};
  }
  return *bytes;
}

}  // namespace contrast::testing
