// The session token file: written owner-only (0600) by login, read by later commands.
#pragma once

#include <boost/system/result.hpp>
#include <string>

namespace tmc::cli {

// Writes token to path, replacing any previous content. The file is created with mode 0600 and
// chmod-ed to 0600 if it already existed; missing parent directories are created with 0700.
// Symbolic links are not followed. Errors: any from mkdir/open/fchmod/write/fsync.
boost::system::result<void> write_token(const std::string& path, const std::string& token);

// The stored token (surrounding whitespace removed). Errors: no_such_file_or_directory when
// nobody logged in; invalid_argument when the file is empty; others from open/read.
boost::system::result<std::string> read_token(const std::string& path);

// Deletes the token file; a missing file is not an error.
boost::system::result<void> remove_token(const std::string& path);

}  // namespace tmc::cli
