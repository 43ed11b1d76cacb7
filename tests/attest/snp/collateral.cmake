contrast_test(snp_collateral_test LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/collateral_test.cpp
  DEPS contrast_snp_collateral contrast_snp_validate contrast_emulated contrast_crypto)
