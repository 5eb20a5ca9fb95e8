// The writeback thread of the executor.
#include "backends/exec/Writeback.h"

#include <fcntl.h>

#include <system_error>
#include <utility>

namespace rysc {

namespace {

void startWriteback(int File) {
  // A failure here loses nothing: the fsync after all files are written
  // reports any error, and writes what is still dirty.
  (void)::sync_file_range(File, 0, 0, SYNC_FILE_RANGE_WRITE);
}

} // namespace

void WritebackQueue::push(int File) {
  FileDescriptor Copy(::fcntl(File, F_DUPFD_CLOEXEC, 0));
  if (Copy.get() < 0) {
    startWriteback(File);
    return;
  }

  std::unique_lock<std::mutex> Lock(Mutex);
  if (!Worker.joinable() && !ThreadFailed) {
    try {
      Worker = std::thread([this] { drain(); });
    } catch (const std::system_error &) {
      ThreadFailed = true;
    }
  }
  if (ThreadFailed) {
    Lock.unlock();
    startWriteback(File);
    return;
  }
  Queue.push_back(std::move(Copy));
  Lock.unlock();
  Ready.notify_one();
}

void WritebackQueue::finish() {
  {
    std::lock_guard<std::mutex> Lock(Mutex);
    Finishing = true;
  }
  Ready.notify_one();
  if (Worker.joinable())
    Worker.join();
}

void WritebackQueue::drain() {
  while (true) {
    FileDescriptor File;
    {
      std::unique_lock<std::mutex> Lock(Mutex);
      Ready.wait(Lock, [this] { return Finishing || !Queue.empty(); });
      if (Queue.empty())
        return;
      File = std::move(Queue.front());
      Queue.pop_front();
    }
    startWriteback(File.get());
  }
}

} // namespace rysc
