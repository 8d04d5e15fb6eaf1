// Key file parsing and writing, and data-key wrapping under the active KEK.
#include "crypto/keyring.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "crypto/aead.hpp"
#include "crypto/encoding.hpp"
#include "crypto/random.hpp"

namespace tmc::crypto {
namespace {

constexpr std::string_view file_header = "tmc-keyring 1";
constexpr std::string_view wrap_scheme = "kek1";
constexpr std::size_t max_key_file_size = 1 << 20;
constexpr std::size_t max_key_id_size = 64;

// A std::string holding key material, wiped when it goes out of scope.
struct SecretString {
  std::string value;
  SecretString() = default;
  explicit SecretString(std::string v) : value(std::move(v)) {}
  SecretString(const SecretString&) = delete;
  SecretString& operator=(const SecretString&) = delete;
  ~SecretString() { OPENSSL_cleanse(value.data(), value.size()); }
};

// Closes a file descriptor on scope exit.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // Closes now, reporting failure (a failed close can mean lost writes).
  bool close() {
    const int fd = std::exchange(fd_, -1);
    return fd < 0 || ::close(fd) == 0;
  }

 private:
  int fd_;
};

// The exception for any key file problem: one sentence naming the file, never its contents.
std::runtime_error key_file_error(const std::filesystem::path& path, std::string_view problem) {
  return std::runtime_error("key file " + path.string() + " " + std::string(problem));
}

// key_file_error for a failed system call, with errno's description.
std::runtime_error key_file_system_error(const std::filesystem::path& path,
                                         std::string_view action) {
  const int error = errno;
  return key_file_error(path, "could not be " + std::string(action) + ": " + std::strerror(error));
}

bool valid_key_id(std::string_view id) {
  return !id.empty() && id.size() <= max_key_id_size &&
         std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-';
         });
}

// Splits a line on runs of spaces and tabs.
std::vector<std::string_view> split_words(std::string_view line) {
  std::vector<std::string_view> words;
  std::size_t position = 0;
  while (position < line.size()) {
    const std::size_t start = line.find_first_not_of(" \t\r", position);
    if (start == std::string_view::npos) break;
    const std::size_t end = std::min(line.find_first_of(" \t\r", start), line.size());
    words.push_back(line.substr(start, end - start));
    position = end;
  }
  return words;
}

void write_all(int fd, std::string_view contents, const std::filesystem::path& path) {
  while (!contents.empty()) {
    const ssize_t written = ::write(fd, contents.data(), contents.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      throw key_file_system_error(path, "written");
    }
    contents.remove_prefix(static_cast<std::size_t>(written));
  }
  if (::fsync(fd) != 0) throw key_file_system_error(path, "synced");
}

// Makes the creation or replacement of file durable by syncing its directory.
void sync_directory(const std::filesystem::path& file) {
  const std::filesystem::path directory =
      file.has_parent_path() ? file.parent_path() : std::filesystem::path(".");
  FileDescriptor fd(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0 || ::fsync(fd.get()) != 0)
    throw key_file_system_error(file, "made durable (directory sync)");
}

std::string read_key_file(const std::filesystem::path& path) {
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) throw key_file_system_error(path, "opened");
  struct stat status {};
  if (::fstat(fd.get(), &status) != 0) throw key_file_system_error(path, "inspected");
  if (!S_ISREG(status.st_mode)) throw key_file_error(path, "is not a regular file");
  if ((status.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(status.st_mode & 07777));
    throw key_file_error(path, std::string("is accessible by group or others (mode ") + mode +
                                   "); run chmod 600 on it");
  }
  if (static_cast<std::size_t>(status.st_size) > max_key_file_size)
    throw key_file_error(path, "is too large");
  std::string contents(static_cast<std::size_t>(status.st_size), '\0');
  std::size_t done = 0;
  while (done < contents.size()) {
    const ssize_t got = ::read(fd.get(), contents.data() + done, contents.size() - done);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw key_file_system_error(path, "read");
    if (got == 0) break;
    done += static_cast<std::size_t>(got);
  }
  contents.resize(done);
  return contents;
}

struct WrappedParts {
  std::string_view key_id;
  std::string_view sealed_base64;
};

std::optional<WrappedParts> split_wrapped(std::string_view wrapped) {
  if (wrapped.substr(0, wrap_scheme.size()) != wrap_scheme) return std::nullopt;
  wrapped.remove_prefix(wrap_scheme.size());
  if (wrapped.empty() || wrapped.front() != '$') return std::nullopt;
  wrapped.remove_prefix(1);
  const std::size_t dollar = wrapped.find('$');
  if (dollar == std::string_view::npos) return std::nullopt;
  WrappedParts parts{wrapped.substr(0, dollar), wrapped.substr(dollar + 1)};
  if (!valid_key_id(parts.key_id)) return std::nullopt;
  return parts;
}

}  // namespace

KeyRing KeyRing::load(const std::filesystem::path& path) {
  const SecretString contents(read_key_file(path));
  KeyRing ring;
  bool seen_header = false;
  std::size_t line_number = 0;
  std::string_view rest = contents.value;
  auto malformed = [&](std::string_view why) {
    return key_file_error(path, "is malformed at line " + std::to_string(line_number) + " (" +
                                    std::string(why) + ")");
  };
  while (!rest.empty()) {
    const std::size_t newline = std::min(rest.find('\n'), rest.size());
    const std::string_view line = rest.substr(0, newline);
    rest.remove_prefix(std::min(newline + 1, rest.size()));
    ++line_number;
    const std::vector<std::string_view> words = split_words(line);
    if (words.empty() || words.front().front() == '#') continue;
    if (!seen_header) {
      if (words.size() != 2 || words[0] != "tmc-keyring" || words[1] != "1") {
        throw malformed("expected the header \"tmc-keyring 1\"");
      }
      seen_header = true;
    } else if (words[0] == "kek") {
      if (words.size() != 3 || !valid_key_id(words[1]))
        throw malformed("expected: kek <id> <hex key>");
      if (ring.has_key(words[1])) throw malformed("duplicate key id");
      SecretString key(hex_decode(words[2]).value_or(std::string()));
      if (key.value.size() != aead_key_size) throw malformed("a key must be 64 hex digits");
      ring.keys_.emplace(std::string(words[1]), std::move(key.value));
    } else if (words[0] == "active") {
      if (words.size() != 2 || !valid_key_id(words[1])) throw malformed("expected: active <id>");
      if (!ring.active_key_id_.empty()) throw malformed("more than one active key");
      ring.active_key_id_ = std::string(words[1]);
    } else {
      throw malformed("unknown entry");
    }
  }
  if (!seen_header) throw key_file_error(path, "is empty or has no \"tmc-keyring 1\" header");
  if (ring.active_key_id_.empty()) throw key_file_error(path, "names no active key");
  if (!ring.has_key(ring.active_key_id_))
    throw key_file_error(path, "names an active key it does not contain");
  return ring;
}

KeyRing KeyRing::create(const std::filesystem::path& path) {
  KeyRing ring = generate();
  FileDescriptor fd(
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (fd.get() < 0) throw key_file_system_error(path, "created");
  try {
    const SecretString contents(ring.serialize());
    write_all(fd.get(), contents.value, path);
    if (!fd.close()) throw key_file_system_error(path, "closed");
    sync_directory(path);
  } catch (...) {
    ::unlink(path.c_str());
    throw;
  }
  return ring;
}

KeyRing KeyRing::generate() {
  KeyRing ring;
  ring.add_key_and_activate();
  return ring;
}

KeyRing::KeyRing(KeyRing&& other) noexcept
    : keys_(std::move(other.keys_)), active_key_id_(std::move(other.active_key_id_)) {
  other.keys_.clear();
  other.active_key_id_.clear();
}

KeyRing& KeyRing::operator=(KeyRing&& other) noexcept {
  if (this != &other) {
    wipe();
    keys_ = std::move(other.keys_);
    active_key_id_ = std::move(other.active_key_id_);
    other.keys_.clear();
    other.active_key_id_.clear();
  }
  return *this;
}

KeyRing::~KeyRing() { wipe(); }

void KeyRing::wipe() noexcept {
  for (auto& [id, key] : keys_) OPENSSL_cleanse(key.data(), key.size());
  keys_.clear();
}

std::string KeyRing::new_data_key() { return random_bytes(aead_key_size); }

std::string KeyRing::wrap(std::string_view data_key) const {
  const auto active = keys_.find(active_key_id_);
  if (active == keys_.end()) throw std::logic_error("key ring has no active key");
  std::string wrapped(wrap_scheme);
  wrapped += '$';
  wrapped += active_key_id_;
  wrapped += '$';
  wrapped += base64url_encode(seal(active->second, data_key, active_key_id_));
  return wrapped;
}

std::optional<std::string> KeyRing::unwrap(std::string_view wrapped) const {
  const auto parts = split_wrapped(wrapped);
  if (!parts) return std::nullopt;
  const auto key = keys_.find(parts->key_id);
  if (key == keys_.end()) return std::nullopt;
  const auto sealed = base64url_decode(parts->sealed_base64);
  if (!sealed) return std::nullopt;
  return open(key->second, *sealed, parts->key_id);
}

std::optional<std::string> KeyRing::rewrap(std::string_view wrapped) const {
  std::optional<std::string> data_key = unwrap(wrapped);
  if (!data_key) return std::nullopt;
  const SecretString plain(std::move(*data_key));
  return wrap(plain.value);
}

std::string KeyRing::key_id_of(std::string_view wrapped) {
  const auto parts = split_wrapped(wrapped);
  return parts ? std::string(parts->key_id) : std::string();
}

std::string KeyRing::add_key_and_activate() {
  std::string id = random_id("kek");
  keys_.emplace(id, random_bytes(aead_key_size));
  active_key_id_ = id;
  return id;
}

Status KeyRing::retire(std::string_view key_id) {
  const auto key = keys_.find(key_id);
  if (key == keys_.end()) return make_error(Code::not_found, "unknown key id");
  if (key_id == active_key_id_) {
    return make_error(Code::failed_precondition, "the active key cannot be retired");
  }
  OPENSSL_cleanse(key->second.data(), key->second.size());
  keys_.erase(key);
  return ok();
}

void KeyRing::save(const std::filesystem::path& path) const {
  std::string temp_name = path.string() + ".tmp-XXXXXX";
  const int raw_fd = ::mkstemp(temp_name.data());  // creates with mode 0600
  if (raw_fd < 0) throw key_file_system_error(path, "saved (temporary file)");
  FileDescriptor fd(raw_fd);
  const std::filesystem::path temp_path(temp_name);
  try {
    if (::fchmod(fd.get(), 0600) != 0)
      throw key_file_system_error(temp_path, "restricted to mode 0600");
    const SecretString contents(serialize());
    write_all(fd.get(), contents.value, temp_path);
    if (!fd.close()) throw key_file_system_error(temp_path, "closed");
    if (::rename(temp_path.c_str(), path.c_str()) != 0)
      throw key_file_system_error(path, "replaced");
  } catch (...) {
    ::unlink(temp_path.c_str());
    throw;
  }
  sync_directory(path);
}

std::vector<std::string> KeyRing::key_ids() const {
  std::vector<std::string> ids;
  ids.reserve(keys_.size());
  for (const auto& [id, key] : keys_) ids.push_back(id);
  return ids;
}

bool KeyRing::has_key(std::string_view key_id) const { return keys_.contains(key_id); }

std::string KeyRing::serialize() const {
  constexpr std::string_view comment =
      "# tmc key-encryption keys. Secret: keep mode 0600, back it up, never share it.\n";
  std::string out;
  // Reserve everything up front so growth never leaves copies of key material in freed memory.
  out.reserve(comment.size() + file_header.size() + 16 + active_key_id_.size() +
              keys_.size() * (8 + max_key_id_size + 2 * aead_key_size));
  out += comment;
  out += file_header;
  out += '\n';
  for (const auto& [id, key] : keys_) {
    const SecretString hex(hex_encode(key));
    out += "kek ";
    out += id;
    out += ' ';
    out += hex.value;
    out += '\n';
  }
  out += "active ";
  out += active_key_id_;
  out += '\n';
  return out;
}

}  // namespace tmc::crypto
