// Starts the kernel's writeback of finished output files on a thread of its
// own, so that the job that wrote a file goes on to the next one at once.
#ifndef RYSC_BACKENDS_EXEC_WRITEBACK_H
#define RYSC_BACKENDS_EXEC_WRITEBACK_H

#include "backends/FileIo.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace rysc {

/// A queue of written files whose writeback a single thread starts with
/// sync_file_range(SYNC_FILE_RANGE_WRITE), in the order they were queued.
/// That call blocks while the disk's request queue is full (0.55 s per
/// 535 MB shard under strace on the benchmark machine), which with one job
/// stopped all copying.
class WritebackQueue {
public:
  WritebackQueue() = default;
  WritebackQueue(const WritebackQueue &) = delete;
  WritebackQueue &operator=(const WritebackQueue &) = delete;
  ~WritebackQueue() { finish(); }

  /// Queues the file open as \p File. The queue keeps a duplicate of the
  /// descriptor, so the caller may close \p File at once, and closes it once
  /// writeback has started. Starts the thread on first use. When no thread
  /// can be started, or the descriptor cannot be duplicated, the writeback
  /// starts in the caller.
  void push(int File);

  /// Waits until the writeback of every queued file has started.
  void finish();

private:
  void drain();

  std::mutex Mutex;
  std::condition_variable Ready;
  std::deque<FileDescriptor> Queue;
  bool Finishing = false;
  bool ThreadFailed = false;
  std::thread Worker;
};

} // namespace rysc

#endif // RYSC_BACKENDS_EXEC_WRITEBACK_H
