contrast_test(snp_abi_test LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/abi_test.cpp
  DEPS contrast_snp)
