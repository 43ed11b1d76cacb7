# Warning flags shared by every target of the project.
function(contrast_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
    -Wnon-virtual-dtor -Wcast-align -Woverloaded-virtual -Wimplicit-fallthrough)
  if(CONTRAST_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# contrast_library(NAME SOURCES ... DEPS ...): one library per module.
function(contrast_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
  contrast_warnings(${name})
endfunction()

# contrast_test(NAME LABEL SOURCES ... DEPS ... [SERIAL FILTER]): a GoogleTest
# binary whose cases are registered with ctest under the given tier label.
# Cases matching the gtest filter SERIAL run alone (RUN_SERIAL): load tests
# that occupy every core and would starve whatever ran beside them.
function(contrast_test name)
  cmake_parse_arguments(ARG "" "LABEL;SERIAL" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} contrast_test_support GTest::gtest GTest::gmock GTest::gtest_main)
  contrast_warnings(${name})
  if(TARGET contrast_test_pch)
    target_precompile_headers(${name} REUSE_FROM contrast_test_pch)
    # As the header was compiled (gRPC's targets bring -pthread).
    target_compile_options(${name} PRIVATE -pthread)
  endif()
  set(properties LABELS ${ARG_LABEL} ENVIRONMENT "CONTRAST_TESTDATA_DIR=${CONTRAST_TESTDATA_DIR}")
  if(ARG_SERIAL)
    gtest_discover_tests(${name} TEST_FILTER "-${ARG_SERIAL}" PROPERTIES ${properties} DISCOVERY_TIMEOUT 60)
    gtest_discover_tests(${name} TEST_FILTER "${ARG_SERIAL}" PROPERTIES ${properties} RUN_SERIAL TRUE
      DISCOVERY_TIMEOUT 60)
  else()
    gtest_discover_tests(${name} PROPERTIES ${properties} DISCOVERY_TIMEOUT 60)
  endif()
endfunction()
