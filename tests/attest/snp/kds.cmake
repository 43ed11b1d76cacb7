contrast_test(snp_kds_test LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/kds_test.cpp
  DEPS contrast_snp_kds contrast_http contrast_crypto)
