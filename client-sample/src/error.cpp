// Error category of the client library.
#include "tmc/client/error.hpp"

#include <utility>

namespace tmc::client {
namespace {

class ClientCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "tmc.client"; }
  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::not_connected:
        return "not connected";
      case errc::already_connected:
        return "already connected";
      case errc::connection_closed:
        return "connection closed";
      case errc::upgrade_refused:
        return "WebSocket upgrade refused";
      case errc::subprotocol_refused:
        return "WebSocket subprotocol refused";
      case errc::timed_out:
        return "timed out";
      case errc::cancelled:
        return "cancelled";
      case errc::server_unavailable:
        return "server unavailable";
    }
    return "unknown client error";
  }
};

}  // namespace

const std::error_category& client_category() noexcept {
  static const ClientCategory category;
  return category;
}

std::error_code make_error_code(errc value) noexcept {
  return {static_cast<int>(value), client_category()};
}

ClientError::ClientError(std::error_code code, std::string message)
    : std::system_error(code), message_(std::move(message)) {}

}  // namespace tmc::client
