#include <iostream>

#include "cli/app.h"

int main(int argc, char** argv) { return contrast::cli::Main(argc, argv, std::cout, std::cerr); }
