contrast_library(contrast_snp
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/abi.cpp
  DEPS contrast_common contrast_crypto nlohmann_json::nlohmann_json)
