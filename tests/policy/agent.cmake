# Tests of the agent part: request semantics, recorded Kata agent sessions,
# the `contrast policy` commands.
contrast_test(agent_policy_test LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/agent_test.cpp
  DEPS contrast_agent_policy)
contrast_test(agent_sessions_test LABEL conformance
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/agent_sessions_test.cpp
  DEPS contrast_agent_policy)
contrast_test(policy_cli_test LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/policy_cli_test.cpp
  DEPS contrast_cli)
