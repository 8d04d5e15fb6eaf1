// Server TLS configuration (Mozilla "intermediate") and client-certificate identity extraction.
#pragma once

#include <string>

#include <boost/asio/ssl/context.hpp>

#include "net/server.hpp"

namespace tmc::net {

// Builds the server context: TLS 1.2 minimum, TLS 1.3 preferred, ECDHE + AEAD ciphers for 1.2,
// no renegotiation, client cipher preference, session tickets and a server session cache.
// Throws std::runtime_error with a one-line reason when a file cannot be loaded or the private
// key does not match the certificate.
boost::asio::ssl::context make_server_tls_context(const TlsOptions& options);

// The organizationName (O) of the subject of the peer's certificate, as UTF-8, when the peer
// presented a certificate that passed verification; otherwise empty.
std::string verified_client_organization(SSL* ssl);

}  // namespace tmc::net
