contrast_library(contrast_snp
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/abi.cpp
          ${CMAKE_CURRENT_LIST_DIR}/cert_table.cpp
          ${CMAKE_CURRENT_LIST_DIR}/trust.cpp
          ${CMAKE_CURRENT_LIST_DIR}/vcek.cpp
          ${CMAKE_CURRENT_LIST_DIR}/verify.cpp
  DEPS contrast_common contrast_crypto nlohmann_json::nlohmann_json)
