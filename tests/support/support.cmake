# Extra sources of contrast_test_support (included from tests/CMakeLists.txt
# after add_library(contrast_test_support ...)).
target_sources(contrast_test_support PRIVATE ${CMAKE_CURRENT_LIST_DIR}/http_server.cpp
  ${CMAKE_CURRENT_LIST_DIR}/process.cpp)
target_link_libraries(contrast_test_support PUBLIC Threads::Threads)
# The OCI registry for image tests (docker-registry; images built in memory).
find_package(ZLIB REQUIRED)
target_sources(contrast_test_support PRIVATE ${CMAKE_CURRENT_LIST_DIR}/registry.cpp)
target_link_libraries(contrast_test_support PUBLIC CURL::libcurl ZLIB::ZLIB nlohmann_json::nlohmann_json OpenSSL::Crypto)
