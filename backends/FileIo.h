// Small POSIX file helpers shared by the readers and the executor.
#ifndef RYSC_BACKENDS_FILEIO_H
#define RYSC_BACKENDS_FILEIO_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <utility>

namespace rysc {

/// Returns the system's text for an errno value, e.g. "No such file or
/// directory".
std::string errnoMessage(int Errno);

/// Owns an open file descriptor and closes it when destroyed.
class FileDescriptor {
public:
  FileDescriptor() = default;
  explicit FileDescriptor(int Fd) : Fd(Fd) {}
  FileDescriptor(FileDescriptor &&Other) : Fd(Other.release()) {}
  FileDescriptor &operator=(FileDescriptor &&Other) {
    std::swap(Fd, Other.Fd);
    return *this;
  }
  FileDescriptor(const FileDescriptor &) = delete;
  FileDescriptor &operator=(const FileDescriptor &) = delete;
  ~FileDescriptor();

  int get() const { return Fd; }
  int release() { return std::exchange(Fd, -1); }

private:
  int Fd = -1;
};

/// Reads \p Size bytes at \p Offset of the file open as \p Fd into
/// \p Buffer, retrying short and interrupted reads. Returns the bytes read,
/// fewer than \p Size only when the file ends first, so that each caller
/// can say what it expected there. A failed read is an error naming
/// \p Path.
llvm::Expected<uint64_t> readAt(int Fd, llvm::StringRef Path, char *Buffer, uint64_t Size,
                                uint64_t Offset);

} // namespace rysc

#endif // RYSC_BACKENDS_FILEIO_H
