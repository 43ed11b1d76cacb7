# Parsing, chains, CRLs, signature verification.
list(APPEND CONTRAST_CRYPTO_SOURCES x509.cpp signature.cpp)
