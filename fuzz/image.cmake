# Image module: manifests, indexes, configs, auth headers, Docker configs and
# references (one target), and the tar/gzip layer scanner (another).
contrast_fuzz_target(image_manifest_fuzz
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/image_manifest_fuzz.cpp
  DEPS contrast_image
  SEEDS)

contrast_fuzz_target(image_layer_fuzz
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/image_layer_fuzz.cpp
  DEPS contrast_image
  SEEDS)
