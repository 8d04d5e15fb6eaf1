// Names for the server's threads, as top -H, ps -L, perf and /proc/PID/task/TID/comm show them.
#pragma once

#include <pthread.h>

#include <thread>

namespace tmc {

// Names a thread (Linux keeps at most 15 characters). The creator names it, so the name is
// there before anyone else can see the thread. The main thread keeps the program's name, which
// is what pgrep and systemd see.
inline void name_thread(std::thread& thread, const char* name) noexcept {
  ::pthread_setname_np(thread.native_handle(), name);
}

// The same from inside, for threads whose creator is not ours (a thread pool's).
inline void name_this_thread(const char* name) noexcept {
  ::pthread_setname_np(::pthread_self(), name);
}

}  // namespace tmc
