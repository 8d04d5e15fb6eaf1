// Hashing for maps keyed by std::string that are looked up with a std::string_view.
#pragma once

#include <cstddef>
#include <functional>
#include <string_view>

namespace tmc {

// With std::equal_to<> as the key equality, find(std::string_view) needs no std::string.
struct TextHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view text) const noexcept {
    return std::hash<std::string_view>{}(text);
  }
};

}  // namespace tmc
