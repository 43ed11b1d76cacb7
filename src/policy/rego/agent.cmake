# The Kata agent's request semantics on top of the engine: request schema and
# defaults, {allowed, ops} results, JSON-Patch policy state.
contrast_library(contrast_agent_policy
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/agent.cpp ${CMAKE_CURRENT_LIST_DIR}/agent_schema.cpp
           ${CMAKE_CURRENT_LIST_DIR}/json_patch.cpp
  DEPS contrast_rego)
