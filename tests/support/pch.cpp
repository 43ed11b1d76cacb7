// Compiles the tests' precompiled header (tests/CMakeLists.txt, CONTRAST_PCH).
