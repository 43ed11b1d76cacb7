# Values and builtins.
list(APPEND REGO_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/value.cpp
  ${CMAKE_CURRENT_LIST_DIR}/builtins.cpp
  ${CMAKE_CURRENT_LIST_DIR}/builtins_collections.cpp
  ${CMAKE_CURRENT_LIST_DIR}/builtins_encoding.cpp
  ${CMAKE_CURRENT_LIST_DIR}/builtins_formats.cpp
  ${CMAKE_CURRENT_LIST_DIR}/builtins_numbers.cpp
  ${CMAKE_CURRENT_LIST_DIR}/builtins_regex.cpp
  ${CMAKE_CURRENT_LIST_DIR}/builtins_strings.cpp
  ${CMAKE_CURRENT_LIST_DIR}/builtins_types.cpp)
