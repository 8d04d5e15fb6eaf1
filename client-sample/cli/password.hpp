// Reading a password from standard input, without echo when it is a terminal.
#pragma once

#include <istream>
#include <ostream>
#include <string>

namespace tmc::cli {

// Reads one line from in. When in is std::cin on a terminal, prompts on prompt_stream and turns
// echo off while reading. Throws std::runtime_error if input ends before a line was read.
std::string read_password(std::istream& in, std::ostream& prompt_stream, const std::string& prompt);

}  // namespace tmc::cli
