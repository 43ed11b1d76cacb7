# Tests of the core part: compiler checks, evaluation semantics, the Engine API.
contrast_test(rego_eval_test LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/eval_test.cpp
  DEPS contrast_rego)
