# lexer and parser sources (list(APPEND REGO_SOURCES ...))
list(APPEND REGO_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/lexer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/parser.cpp)
# the builtin that template strings are parsed into
list(APPEND REGO_SOURCES ${CMAKE_CURRENT_LIST_DIR}/builtins_template.cpp)
