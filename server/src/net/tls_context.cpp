// Server TLS configuration (Mozilla "intermediate") and client-certificate identity extraction.
#include "net/tls_context.hpp"

#include <stdexcept>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace tmc::net {
namespace {

namespace ssl = boost::asio::ssl;

// Mozilla "intermediate" TLS 1.2 suites restricted to ECDHE key exchange with AEAD ciphers.
// TLS 1.3 suites are OpenSSL's defaults (all AEAD).
constexpr const char* tls12_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr const char* key_exchange_groups = "X25519:P-256:P-384";
constexpr unsigned char session_id_context[] = "tmc";

[[noreturn]] void fail(const std::string& what, const std::string& file, std::string reason) {
  if (reason.empty()) {
    const unsigned long code = ERR_get_error();
    char buffer[256] = {};
    ERR_error_string_n(code, buffer, sizeof buffer);
    reason = code != 0 ? buffer : "unknown OpenSSL error";
  }
  ERR_clear_error();
  throw std::runtime_error("TLS: cannot " + what + " '" + file + "': " + reason);
}

void require(bool ok, const char* what) {
  if (!ok) fail(what, "context", {});
}

}  // namespace

ssl::context make_server_tls_context(const TlsOptions& options) {
  ssl::context context{ssl::context::tls_server};
  SSL_CTX* native = context.native_handle();

  require(SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) == 1, "set minimum version of");
  context.set_options(ssl::context::default_workarounds | ssl::context::single_dh_use);
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION);
  // Mozilla intermediate leaves the choice to the client (it knows whether it has AES hardware).
  SSL_CTX_clear_options(native, SSL_OP_CIPHER_SERVER_PREFERENCE);
  require(SSL_CTX_set_cipher_list(native, tls12_ciphers) == 1, "set cipher list of");
  require(SSL_CTX_set1_groups_list(native, key_exchange_groups) == 1, "set groups of");
  SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);
  // Resumption (tickets and the server cache) keeps reconnect storms cheap.
  SSL_CTX_clear_options(native, SSL_OP_NO_TICKET);
  SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_SERVER);
  // One TLS 1.3 ticket per handshake resumes the next connection; OpenSSL's default of two cost
  // a second ticket's encryption and send on every connection (measured: 8-14% of the server
  // CPU of a new session).
  require(SSL_CTX_set_num_tickets(native, 1) == 1, "set ticket count of");
  require(SSL_CTX_set_session_id_context(native, session_id_context,
                                         sizeof session_id_context - 1) == 1,
          "set session id context of");

  boost::system::error_code ec;
  context.use_certificate_chain_file(options.certificate_chain_file, ec);
  if (ec) fail("load certificate chain", options.certificate_chain_file, {});
  context.use_private_key_file(options.private_key_file, ssl::context::pem, ec);
  if (ec) fail("load private key", options.private_key_file, {});
  if (SSL_CTX_check_private_key(native) != 1) {
    fail("use private key", options.private_key_file, "it does not match the certificate");
  }

  if (!options.client_ca_file.empty()) {
    context.load_verify_file(options.client_ca_file, ec);
    if (ec) fail("load client CA file", options.client_ca_file, {});
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(options.client_ca_file.c_str());
    if (names == nullptr) fail("read CA names from", options.client_ca_file, {});
    SSL_CTX_set_client_CA_list(native, names);  // takes ownership
    ssl::verify_mode mode = ssl::verify_peer;
    if (options.require_client_certificate) mode |= ssl::verify_fail_if_no_peer_cert;
    context.set_verify_mode(mode);
  } else if (options.require_client_certificate) {
    fail("require client certificates without", "client_ca_file", "no client CA configured");
  }
  ERR_clear_error();
  return context;
}

std::string verified_client_organization(SSL* ssl) {
  if (ssl == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) return {};
  X509* certificate = SSL_get0_peer_certificate(ssl);
  if (certificate == nullptr) return {};
  X509_NAME* subject = X509_get_subject_name(certificate);
  const int index = X509_NAME_get_index_by_NID(subject, NID_organizationName, -1);
  if (index < 0) return {};
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
  unsigned char* utf8 = nullptr;
  const int length = ASN1_STRING_to_UTF8(&utf8, data);
  if (length < 0) return {};
  std::string organization(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(length));
  OPENSSL_free(utf8);
  return organization;
}

}  // namespace tmc::net
