# Compiler, evaluator and the Engine API.
list(APPEND REGO_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/compiler.cpp
  ${CMAKE_CURRENT_LIST_DIR}/eval.cpp
  ${CMAKE_CURRENT_LIST_DIR}/engine.cpp)
