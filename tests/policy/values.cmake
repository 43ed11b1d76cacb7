# Tests of Rego values and the collection, number and type builtins.
contrast_test(rego_values_test LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/value_test.cpp ${CMAKE_CURRENT_LIST_DIR}/builtins_values_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/builtins_formats_test.cpp
  DEPS contrast_rego)
