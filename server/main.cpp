// tmc-server: the telemedicine consultation hub (TLS WebSocket server).
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>

#include <spdlog/spdlog.h>

#include "app/config.hpp"
#include "app/server_app.hpp"

int main(int argc, char** argv) {
  auto parsed = tmc::app::parse_config(argc, argv, [](const std::string& name) {
    const char* value = std::getenv(name.c_str());
    return value ? std::string(value) : std::string();
  });
  if (!parsed.help.empty()) {
    std::cout << parsed.help;
    return 0;
  }
  if (!parsed.config) {
    std::cerr << "tmc-server: " << parsed.error << '\n';
    return 2;
  }
  tmc::app::configure_logging(*parsed.config);
  try {
    tmc::SystemClock clock;
    tmc::app::ServerApp app(*parsed.config, clock);
    const auto port = app.start();
    // One machine-readable line for scripts and tests that start the server on port 0.
    std::cout << "tmc-server listening on port " << port << std::endl;
    app.run(/*handle_signals=*/true);
  } catch (const std::exception& error) {
    std::cerr << "tmc-server: " << error.what() << '\n';
    return 1;
  }
  return 0;
}
