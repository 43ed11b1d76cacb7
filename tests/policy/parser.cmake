# tests of the parser part
contrast_test(rego_parser_test LABEL unit SOURCES ${CMAKE_CURRENT_LIST_DIR}/parser_test.cpp DEPS contrast_rego yaml-cpp)
