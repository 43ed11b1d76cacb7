contrast_test(crypto_builder_test LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/builder_test.cpp
  DEPS contrast_crypto)
