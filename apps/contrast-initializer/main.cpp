#include <iostream>

#include "initializer/initializer.h"

int main(int argc, char** argv) { return contrast::initializer::Main(argc, argv, std::cout, std::cerr); }
