# contrast_snp_validate: SEV-SNP reference values (manifest schema) and
# validation of a report against them.
contrast_library(contrast_snp_validate
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/reference_values.cpp
          ${CMAKE_CURRENT_LIST_DIR}/validate.cpp
  DEPS contrast_snp nlohmann_json::nlohmann_json)
