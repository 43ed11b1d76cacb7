contrast_test(snp_abi_test LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/abi_test.cpp
  DEPS contrast_snp)
contrast_test(snp_verify_test LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/trust_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/vcek_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/verify_test.cpp
  DEPS contrast_snp)
target_compile_definitions(snp_verify_test PRIVATE CONTRAST_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
