# contrast_http: the libcurl GET client (src/common/http.*). It is a library of
# its own so that contrast_common does not link libcurl; it is defined here,
# its first user, until src/common/CMakeLists.txt takes it over.
if(NOT TARGET contrast_http)
  contrast_library(contrast_http
    SOURCES ${PROJECT_SOURCE_DIR}/src/common/http.cpp
    DEPS contrast_common CURL::libcurl)
endif()

# contrast_snp_kds: AMD Key Distribution Service client (VCEK, cert_chain, CRL).
contrast_library(contrast_snp_kds
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/kds.cpp
  DEPS contrast_snp contrast_http CURL::libcurl)
