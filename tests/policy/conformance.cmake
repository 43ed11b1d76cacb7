# tests of the conformance part
#
# rego_conformance runs OPA-format YAML cases (OPA's own suite and
# rego-cpp's) on our engine; one ctest per case file, label `conformance`.
set(CONFORMANCE_DIR ${CMAKE_CURRENT_LIST_DIR}/conformance)
set(CONFORMANCE_SKIPS ${CMAKE_CURRENT_LIST_DIR}/conformance-skips.txt)
set(CONFORMANCE_DIVERGENCES ${CMAKE_CURRENT_LIST_DIR}/conformance-divergences.txt)

add_library(contrast_rego_conformance STATIC ${CONFORMANCE_DIR}/case_runner.cpp)
target_include_directories(contrast_rego_conformance PUBLIC ${PROJECT_SOURCE_DIR}/tests ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(contrast_rego_conformance PUBLIC contrast_rego contrast_common yaml-cpp)
contrast_warnings(contrast_rego_conformance)

add_executable(rego_conformance ${CONFORMANCE_DIR}/rego_conformance.cpp)
target_link_libraries(rego_conformance PRIVATE contrast_rego_conformance)
contrast_warnings(rego_conformance)

contrast_test(rego_conformance_test LABEL unit
  SOURCES ${CONFORMANCE_DIR}/conformance_test.cpp
  DEPS contrast_rego_conformance)
target_compile_definitions(rego_conformance_test PRIVATE CONTRAST_SOURCE_DIR="${PROJECT_SOURCE_DIR}")

# Our own cases in OPA's format (with OPA's answers), always run.
file(GLOB CONTRAST_CASE_FILES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/cases/*.yaml)
foreach(case_file IN LISTS CONTRAST_CASE_FILES)
  get_filename_component(name ${case_file} NAME)
  add_test(NAME conformance.contrast/${name} COMMAND rego_conformance ${case_file})
  set_tests_properties(conformance.contrast/${name} PROPERTIES LABELS conformance TIMEOUT 600)
endforeach()

set(CONFORMANCE_DATA ${CONTRAST_TESTDATA_DIR}/rego)
if(IS_DIRECTORY ${CONFORMANCE_DATA})
  file(GLOB_RECURSE CONFORMANCE_FILES CONFIGURE_DEPENDS ${CONFORMANCE_DATA}/*.yaml)
  list(SORT CONFORMANCE_FILES)
  foreach(case_file IN LISTS CONFORMANCE_FILES)
    file(RELATIVE_PATH relative ${CONFORMANCE_DATA} ${case_file})
    add_test(NAME conformance.${relative}
      COMMAND rego_conformance --isolate --skips ${CONFORMANCE_SKIPS}
              --divergences ${CONFORMANCE_DIVERGENCES} ${case_file})
    set_tests_properties(conformance.${relative} PROPERTIES LABELS conformance TIMEOUT 600)
  endforeach()
else()
  # Mirrors tests/support/testdata.h at run time: skip on a user's clone,
  # fail under CI=true.
  add_test(NAME conformance.testdata-missing
    COMMAND sh -c "echo 'Rego conformance data not found at ${CONFORMANCE_DATA} (set CONTRAST_TESTDATA_DIR or check out ../shared beside the repository)'; if [ \"$CI\" = true ]; then echo 'CI=true: refusing to skip'; exit 1; fi; exit 77")
  set_tests_properties(conformance.testdata-missing PROPERTIES LABELS conformance SKIP_RETURN_CODE 77)
endif()
