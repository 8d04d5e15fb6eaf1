// Internal to tmc::crypto: the OpenSSL algorithm implementations it uses, fetched once.
#pragma once

#include <openssl/evp.h>

namespace tmc::crypto::detail {

// OpenSSL 3 looks a legacy handle such as EVP_aes_256_gcm() or EVP_sha256() up again in its
// provider tables (name map, method store, their locks) on every EVP_*Init_ex; these are fetched
// from the default library context on first use and kept for the life of the process, so an
// init only sets the key. Each throws std::runtime_error when no provider offers the algorithm.
const EVP_CIPHER* aes_256_gcm();
const EVP_MD* sha256();
const EVP_MD* sha1();

}  // namespace tmc::crypto::detail
