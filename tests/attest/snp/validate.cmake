contrast_test(snp_reference_values_test LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/reference_values_test.cpp
  DEPS contrast_snp_validate)
contrast_test(snp_validate_test LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/validate_test.cpp
  DEPS contrast_snp_validate)
