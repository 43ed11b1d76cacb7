# Tests of the string, regex and encoding builtins.
contrast_test(rego_strings_test LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/builtins_strings_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/builtins_regex_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/builtins_encoding_test.cpp
  DEPS contrast_rego)
