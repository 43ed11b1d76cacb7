contrast_test(crypto_x509_test LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/x509_test.cpp ${CMAKE_CURRENT_LIST_DIR}/signature_test.cpp
  DEPS contrast_crypto)
