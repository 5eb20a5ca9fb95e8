// Carries out a WritePlan: writes its files into a new output folder.
#ifndef RYSC_BACKENDS_EXEC_EXECUTOR_H
#define RYSC_BACKENDS_EXEC_EXECUTOR_H

#include "backends/Plan.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

#include <cstddef>

namespace rysc {

/// Settings for executePlan.
struct ExecuteOptions {
  /// Output files written in parallel, or 0 for
  /// std::thread::hardware_concurrency().
  unsigned Jobs = 0;
  /// Replace an OutDir that exists and is not empty.
  bool Force = false;
  /// Bytes per copy_file_range call and size of each job's buffer for the
  /// pread/pwrite fallback.
  size_t ChunkSize = 8u << 20;
  /// Always use pread/pwrite, so tests can exercise that path.
  bool DisableCopyFileRange = false;
  /// When set, receives one line per copy (for --verbose).
  llvm::raw_ostream *Log = nullptr;
};

/// Alignment, in output bytes, that the first copy call of a range stops at
/// when the range starts between two multiples of it.
constexpr uint64_t CopyStartAlignment = 64u << 10;

/// Returns how many bytes the next copy call of a range moves, when its next
/// byte goes to output offset \p OutputOffset and \p Left bytes are left.
/// The call moves at most \p ChunkSize bytes and ends at the next multiple
/// of CopyStartAlignment when \p OutputOffset is not one, else at the next
/// multiple of \p ChunkSize. Later calls then start at aligned output
/// offsets, where Linux page-cache writes can use large folios.
uint64_t nextCopyLength(uint64_t OutputOffset, uint64_t Left, uint64_t ChunkSize);

/// Returns the temporary folders beside \p Out that earlier runs writing it
/// left when they were killed before they could remove them
/// (".NAME.rysc-tmp-XXXXXX" and ".NAME.rysc-old-XXXXXX", NAME being the last
/// part of \p Out), sorted.
std::vector<std::string> findLeftoverFolders(llvm::StringRef Out);

/// Writes every file of \p Plan into a new temporary folder beside
/// \p OutDir (same parent, named ".<base>.rysc-tmp-XXXXXX"), checks each file
/// ends at its planned Size, fsyncs, then renames the folder to \p OutDir.
///
/// \p OutDir must not exist, or be an empty folder. With Options.Force a
/// non-empty \p OutDir is moved aside and deleted only after the new folder
/// is in place. An \p OutDir that contains a source file, directly or
/// below, is an error even with Force. On any failure or interrupt the
/// temporary folder is removed and \p OutDir is left as it was. The
/// exceptions are failures after the new folder is in place: syncing its
/// parent folder, or deleting the old folder moved aside by Force.
llvm::Error executePlan(const WritePlan &Plan, llvm::StringRef OutDir,
                        const ExecuteOptions &Options);

/// Writes the files of \p Plan, which must have no subfolders, beside
/// \p OutFile (in its folder): into a temporary folder first, then each is
/// renamed into place. An existing file is replaced only with
/// Options.Force, and never when it is one of the plan's sources. Used for
/// single-file outputs such as GGUF files and their split parts.
llvm::Error executePlanAsFiles(const WritePlan &Plan, llvm::StringRef OutFile,
                               const ExecuteOptions &Options);

/// Installs SIGINT and SIGTERM handlers that only set the flag read by
/// wasInterrupted().
void installInterruptHandlers();

/// Returns true once SIGINT or SIGTERM arrived after
/// installInterruptHandlers().
bool wasInterrupted();

} // namespace rysc

#endif // RYSC_BACKENDS_EXEC_EXECUTOR_H
