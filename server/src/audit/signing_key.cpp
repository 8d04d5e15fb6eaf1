// Ed25519 key that signs audit tree heads, kept in a mode-0600 key file beside the database.
#include "audit/signing_key.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "crypto/encoding.hpp"
#include "crypto/random.hpp"

namespace tmc::audit {
namespace {

constexpr std::size_t seed_size = 32;
constexpr const char* file_magic = "tmc-audit-key 1";

struct PkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct MdContextDeleter {
  void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using MdContextPtr = std::unique_ptr<EVP_MD_CTX, MdContextDeleter>;

std::runtime_error key_file_error(const std::filesystem::path& path, const std::string& what) {
  return std::runtime_error("audit key file " + path.string() + ": " + what);
}

void wipe(std::string& secret) {
  OPENSSL_cleanse(secret.data(), secret.size());
  secret.clear();
}

}  // namespace

struct SigningKey::Key {
  PkeyPtr pkey;
};

SigningKey::SigningKey(std::unique_ptr<Key> key) : key_(std::move(key)) {
  public_key_.resize(ed25519_public_key_size);
  std::size_t length = public_key_.size();
  if (EVP_PKEY_get_raw_public_key(key_->pkey.get(),
                                  reinterpret_cast<unsigned char*>(public_key_.data()),
                                  &length) != 1 ||
      length != ed25519_public_key_size) {
    throw std::runtime_error("ed25519: cannot derive the public key");
  }
}

SigningKey::SigningKey(SigningKey&&) noexcept = default;
SigningKey& SigningKey::operator=(SigningKey&&) noexcept = default;
SigningKey::~SigningKey() = default;

SigningKey SigningKey::generate() {
  auto seed = crypto::random_bytes(seed_size);
  auto key = std::make_unique<Key>();
  key->pkey.reset(EVP_PKEY_new_raw_private_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(seed.data()),
      seed.size()));
  wipe(seed);
  if (!key->pkey) throw std::runtime_error("ed25519: cannot create a key");
  return SigningKey(std::move(key));
}

SigningKey SigningKey::load(const std::filesystem::path& path) {
  struct stat info {};
  if (::lstat(path.c_str(), &info) != 0) {
    throw key_file_error(path, std::string("cannot be read: ") + std::strerror(errno));
  }
  if (!S_ISREG(info.st_mode)) throw key_file_error(path, "is not a regular file");
  if ((info.st_mode & 077) != 0) {
    throw key_file_error(path, "is accessible by group or others (chmod 600 it)");
  }
  std::ifstream in(path);
  std::string magic, kind, hex;
  std::getline(in, magic);
  in >> kind >> hex;
  if (!in || magic != file_magic || kind != "ed25519") throw key_file_error(path, "is malformed");
  auto seed = crypto::hex_decode(hex);
  wipe(hex);
  if (!seed || seed->size() != seed_size) throw key_file_error(path, "is malformed");
  auto key = std::make_unique<Key>();
  key->pkey.reset(EVP_PKEY_new_raw_private_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(seed->data()),
      seed->size()));
  wipe(*seed);
  if (!key->pkey) throw key_file_error(path, "holds an invalid key");
  return SigningKey(std::move(key));
}

SigningKey SigningKey::create(const std::filesystem::path& path) {
  SigningKey key = generate();
  std::string seed(seed_size, '\0');
  std::size_t length = seed.size();
  if (EVP_PKEY_get_raw_private_key(key.key_->pkey.get(),
                                   reinterpret_cast<unsigned char*>(seed.data()), &length) != 1) {
    throw std::runtime_error("ed25519: cannot export the private key");
  }
  std::string contents = std::string(file_magic) + "\ned25519 " + crypto::hex_encode(seed) + "\n";
  wipe(seed);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    wipe(contents);
    throw key_file_error(path, std::string("cannot be created: ") + std::strerror(errno));
  }
  const bool written = ::write(fd, contents.data(), contents.size()) ==
                           static_cast<ssize_t>(contents.size()) &&
                       ::fsync(fd) == 0;
  wipe(contents);
  if (::close(fd) != 0 || !written) {
    ::unlink(path.c_str());
    throw key_file_error(path, "cannot be written");
  }
  if (const int dir = ::open(path.parent_path().empty() ? "." : path.parent_path().c_str(),
                             O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return key;
}

SigningKey SigningKey::load_or_create(const std::filesystem::path& path) {
  std::error_code error;
  if (std::filesystem::exists(std::filesystem::symlink_status(path, error))) return load(path);
  return create(path);
}

std::string SigningKey::sign(std::string_view message) const {
  MdContextPtr context(EVP_MD_CTX_new());
  std::string signature(ed25519_signature_size, '\0');
  std::size_t length = signature.size();
  if (!context ||
      EVP_DigestSignInit(context.get(), nullptr, nullptr, nullptr, key_->pkey.get()) != 1 ||
      EVP_DigestSign(context.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                     reinterpret_cast<const unsigned char*>(message.data()),
                     message.size()) != 1 ||
      length != ed25519_signature_size) {
    throw std::runtime_error("ed25519: signing failed");
  }
  return signature;
}

bool verify_signature(std::string_view public_key, std::string_view message,
                      std::string_view signature) {
  if (public_key.size() != ed25519_public_key_size ||
      signature.size() != ed25519_signature_size) {
    return false;
  }
  PkeyPtr key(EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(public_key.data()),
      public_key.size()));
  MdContextPtr context(EVP_MD_CTX_new());
  const bool valid =
      key && context &&
      EVP_DigestVerifyInit(context.get(), nullptr, nullptr, nullptr, key.get()) == 1 &&
      EVP_DigestVerify(context.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                       signature.size(), reinterpret_cast<const unsigned char*>(message.data()),
                       message.size()) == 1;
  if (!valid) ERR_clear_error();  // an expected failure must not linger in the error queue
  return valid;
}

}  // namespace tmc::audit
