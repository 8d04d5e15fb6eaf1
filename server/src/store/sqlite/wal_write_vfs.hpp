// A SQLite VFS over the platform's own that hands each commit's WAL frames to the kernel in one
// write.
//
// SQLite writes a frame of the write-ahead log as two writes, its 24-byte header and then the
// page, so a commit of k pages made 2k `pwrite` calls into consecutive bytes of the log. On
// this VM a call costs about 2 µs whatever its size: 24 µs for a commit of six pages against
// 5 µs for one write of the same bytes, and the WAL's writes were 10–13% of the server's CPU
// in the chat's open loop. This VFS keeps consecutive writes to a WAL in memory and passes them
// down as one write:
//
// - at the end of a commit: after the page of a commit frame (a frame header whose "database
//   size after commit" field is not zero), before SQLite publishes the commit to readers in
//   the WAL index, whatever the connection's synchronous setting;
// - before a sync, read, truncation, size query or close of that WAL, before a write elsewhere
//   in the file, and before the bytes held would exceed what the base VFS takes in one write
//   (128 KiB).
//
// A write that fails on its way down is reported by the call that passed it down (the commit's
// last write, or its sync), so SQLite rolls the transaction back as for any failed write; the
// frames it held never reached the file, and the log's index never pointed at them. Nothing
// changes for the database file, journals or temporary files: they are the base VFS's own.
#pragma once

namespace tmc::store::sqlite {

// The name of the VFS over base (nullptr: the default VFS), registered on first use and kept for
// the life of the process. Thread-safe. Throws StoreError when base does not exist.
const char* wal_write_vfs(const char* base = nullptr);

}  // namespace tmc::store::sqlite
