# Extra sources of contrast_test_support (included from tests/CMakeLists.txt
# after add_library(contrast_test_support ...)).
target_sources(contrast_test_support PRIVATE ${CMAKE_CURRENT_LIST_DIR}/http_server.cpp
  ${CMAKE_CURRENT_LIST_DIR}/process.cpp)
target_link_libraries(contrast_test_support PUBLIC Threads::Threads)
# The OCI registry for image tests (docker-registry; images built in memory).
find_package(ZLIB REQUIRED)
target_sources(contrast_test_support PRIVATE ${CMAKE_CURRENT_LIST_DIR}/registry.cpp)
target_link_libraries(contrast_test_support PUBLIC CURL::libcurl ZLIB::ZLIB nlohmann_json::nlohmann_json OpenSSL::Crypto)
# asan preset: a leaked OpenSSL object of ours is reported with the suppressions
# CI uses (tests/lsan-suppressions.txt, tests/support/lsan_grpc_openssl.cpp).
if(TARGET contrast_lsan_grpc_openssl)
  add_executable(lsan_openssl_leak ${CMAKE_CURRENT_LIST_DIR}/lsan_openssl_leak.cpp)
  target_link_libraries(lsan_openssl_leak PRIVATE OpenSSL::Crypto gRPC::grpc++)
  contrast_warnings(lsan_openssl_leak)
  add_test(NAME lsan.openssl_leak_of_ours_is_reported COMMAND lsan_openssl_leak)
  set_tests_properties(lsan.openssl_leak_of_ours_is_reported PROPERTIES LABELS unit
    ENVIRONMENT "LSAN_OPTIONS=suppressions=${PROJECT_SOURCE_DIR}/tests/lsan-suppressions.txt:print_suppressions=0"
    PASS_REGULAR_EXPRESSION "Direct leak of [0-9]+ byte")
endif()
# A real etcd cluster for the EtcdStore tests (a library of its own: only
# those tests link gRPC's generated etcd client).
add_library(contrast_test_etcd STATIC ${CMAKE_CURRENT_LIST_DIR}/etcd_cluster.cpp)
target_link_libraries(contrast_test_etcd PUBLIC contrast_test_support contrast_history_etcd contrast_crypto)
contrast_warnings(contrast_test_etcd)
# A TCP proxy that cuts one client's link (reset or blackhole) on demand, for
# the HA tests and bench/ha_bench.cpp.
target_sources(contrast_test_support PRIVATE ${CMAKE_CURRENT_LIST_DIR}/tcp_proxy.cpp)
contrast_test(tcp_proxy_test LABEL unit SOURCES ${CMAKE_CURRENT_LIST_DIR}/tcp_proxy_test.cpp)
