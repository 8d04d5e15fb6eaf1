// Names for the server's threads, as top -H, ps -L, perf and /proc/PID/task/TID/comm show them.
#pragma once

#include <pthread.h>

namespace tmc {

// Names the calling thread (Linux keeps at most 15 characters). The main thread keeps the
// program's name, which is what pgrep and systemd see.
inline void name_this_thread(const char* name) noexcept {
  ::pthread_setname_np(::pthread_self(), name);
}

}  // namespace tmc
