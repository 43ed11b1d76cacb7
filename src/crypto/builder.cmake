list(APPEND CONTRAST_CRYPTO_SOURCES keys.cpp x509_builder.cpp)
