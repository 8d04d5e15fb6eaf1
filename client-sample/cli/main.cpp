// tmc-client: command-line client of the telemedicine consultation server.
#include <iostream>
#include <string>
#include <vector>

#include "cli/app.hpp"

int main(int argc, char** argv) {
  const std::vector<std::string> arguments(argv + 1, argv + argc);
  return tmc::cli::run(arguments, std::cin, std::cout, std::cerr, tmc::cli::process_environment());
}
