# lexer and parser sources (list(APPEND REGO_SOURCES ...))
list(APPEND REGO_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/lexer.cpp
  ${CMAKE_CURRENT_LIST_DIR}/parser.cpp)
