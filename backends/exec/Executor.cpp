// Carries out a WritePlan: writes its files into a new output folder.
#include "backends/exec/Executor.h"
#include "backends/exec/Writeback.h"

#include "backends/FileIo.h"
#include "compiler/Error.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <climits>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <system_error>
#include <thread>
#include <utility>

using namespace llvm;

namespace rysc {

namespace {

std::atomic<bool> Interrupted{false};

/// Returns the name of a temporary folder beside output \p Base without its
/// six random characters: ".BASE.rysc-KIND-".
std::string temporaryFolderPrefix(StringRef Base, StringRef Kind) {
  return ("." + Base + ".rysc-" + Kind + "-").str();
}
static_assert(std::atomic<bool>::is_always_lock_free,
              "the signal handler may only touch a lock-free atomic");

void handleInterrupt(int) { Interrupted.store(true); }

/// Returns true when copy_file_range failed for a reason that pread/pwrite
/// does not share, such as a filesystem or kernel without support for it.
bool isCopyFileRangeUnsupported(int Errno) {
  return Errno == EXDEV || Errno == ENOSYS || Errno == EOPNOTSUPP ||
         Errno == EINVAL || Errno == EPERM;
}

/// Removes a folder and everything in it. Symbolic links inside are removed,
/// never followed.
std::error_code removeTree(const std::string &Path) {
  std::error_code EC;
  std::filesystem::remove_all(Path, EC);
  return EC;
}

// --- Plan checks ---

Error checkOutputPath(StringRef Path) {
  if (Path.empty())
    return fileError(Path, "output path is empty");
  if (Path.contains('\0')) {
    // LLVM 14's createStringError copies a message through c_str(), so the
    // NUL is shown escaped.
    std::string EscapedPath = Path.str();
    for (size_t At = EscapedPath.find('\0'); At != std::string::npos;
         At = EscapedPath.find('\0', At))
      EscapedPath.replace(At, 1, "\\0");
    return fileError(EscapedPath, "output path contains a NUL byte");
  }
  if (Path.startswith("/"))
    return fileError(Path, "output path is absolute, expected a path "
                           "relative to the output folder");

  SmallVector<StringRef, 8> Components;
  Path.split(Components, '/');
  for (StringRef Component : Components) {
    if (Component.empty())
      return fileError(Path, "output path has an empty component");
    if (Component == "..")
      return fileError(Path, "output path contains '..', expected a path "
                             "inside the output folder");
    if (Component == ".")
      return fileError(Path, "output path contains '.', expected a path "
                             "without it");
  }
  return Error::success();
}

/// Checks that no output path is listed twice or used both as a file and
/// as a folder of another file.
Error checkPathsDistinct(const WritePlan &Plan) {
  std::set<StringRef> FilePaths;
  for (const PlannedFile &File : Plan.Files)
    if (!FilePaths.insert(File.Path).second)
      return fileError(File.Path, "output path is listed twice in the plan");

  for (const PlannedFile &File : Plan.Files) {
    StringRef Folder =
        sys::path::parent_path(File.Path, sys::path::Style::posix);
    for (; !Folder.empty();
         Folder = sys::path::parent_path(Folder, sys::path::Style::posix))
      if (FilePaths.count(Folder))
        return fileError(Folder, "output path is both a file and the folder "
                                 "of '" +
                                     File.Path + "'");
  }
  return Error::success();
}

Error checkWholeSourceFile(const WritePlan &Plan, const PlannedFile &File) {
  if (*File.WholeSource >= Plan.Sources.size())
    return fileError(File.Path, "plan copies source " +
                                    Twine(*File.WholeSource) +
                                    " but has only " +
                                    Twine(Plan.Sources.size()) + " sources");
  if (!File.Prefix.empty() || !File.Inline.empty() || !File.Copies.empty())
    return fileError(File.Path, "plan copies a whole source file but also "
                                "lists a prefix or copies");
  return Error::success();
}

/// Checks that the copies of \p File start after its prefix, follow each
/// other with no gap and end at its planned size.
Error checkCopyLayout(const WritePlan &Plan, const PlannedFile &File) {
  uint64_t End = File.Prefix.size();
  for (size_t I = 0; I < File.Copies.size(); ++I) {
    const CopyRange &Copy = File.Copies[I];
    bool Special = Copy.Source == ZeroFill || Copy.Source == SpaceFill ||
                   Copy.Source == InlineBytes;
    if (!Special && Copy.Source >= Plan.Sources.size())
      return fileError(File.Path, "copy " + Twine(I) + " reads source " +
                                      Twine(Copy.Source) +
                                      " but the plan has " +
                                      Twine(Plan.Sources.size()) + " sources");
    if (Copy.Source == InlineBytes &&
        (Copy.SourceOffset > File.Inline.size() ||
         Copy.Length > File.Inline.size() - Copy.SourceOffset))
      return fileError(File.Path, "copy " + Twine(I) + " writes inline bytes " +
                                      Twine(Copy.SourceOffset) + " to " +
                                      Twine(Copy.SourceOffset + Copy.Length) +
                                      " of " + Twine(File.Inline.size()));
    if (Copy.OutputOffset != End)
      return fileError(
          File.Path, "copy " + Twine(I) + " starts at output offset " +
                         Twine(Copy.OutputOffset) + ", expected " + Twine(End));
    if (Copy.Length > UINT64_MAX - Copy.SourceOffset ||
        Copy.Length > UINT64_MAX - End)
      return fileError(File.Path, "copy " + Twine(I) + " of " +
                                      Twine(Copy.Length) +
                                      " bytes overflows 64-bit offsets");
    End += Copy.Length;
  }
  if (End != File.Size)
    return fileError(File.Path, "planned size is " + Twine(File.Size) +
                                    " bytes but the prefix and copies end at " +
                                    Twine(End));
  for (const CopyRange &Zeros : File.ZerosAfter)
    if (Zeros.OutputOffset > File.Size || Zeros.Length > File.Size - Zeros.OutputOffset)
      return fileError(File.Path, "zeroed range at " + Twine(Zeros.OutputOffset) + " of " +
                                      Twine(Zeros.Length) + " bytes ends past the file's " +
                                      Twine(File.Size) + " bytes");
  return Error::success();
}

Error checkPlan(const WritePlan &Plan, const ExecuteOptions &Options) {
  if (Options.ChunkSize == 0)
    return plainError("chunk size is 0, expected a positive number of bytes");
  for (const PlannedFile &File : Plan.Files) {
    if (Error E = checkOutputPath(File.Path))
      return E;
    Error E = File.WholeSource ? checkWholeSourceFile(Plan, File)
                               : checkCopyLayout(Plan, File);
    if (E)
      return E;
  }
  return checkPathsDistinct(Plan);
}

// --- Sources ---

/// An open source file.
struct SourceFile {
  std::string Path;
  FileDescriptor File;
  uint64_t Size = 0;
};

Expected<SourceFile> openSource(const std::string &Path) {
  SourceFile Source;
  Source.Path = Path;
  Source.File = FileDescriptor(::open(Path.c_str(), O_RDONLY | O_CLOEXEC));
  if (Source.File.get() < 0)
    return fileError(Path, "failed to open: " + errnoMessage(errno));

  struct stat Status;
  if (::fstat(Source.File.get(), &Status) != 0)
    return fileError(Path,
                     "failed to read the file status: " + errnoMessage(errno));
  if (!S_ISREG(Status.st_mode))
    return fileError(Path, "not a regular file");
  Source.Size = static_cast<uint64_t>(Status.st_size);

  // The advice only affects speed, so a failure is ignored.
  (void)::posix_fadvise(Source.File.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  return Source;
}

Expected<std::vector<SourceFile>> openSources(const WritePlan &Plan) {
  std::vector<SourceFile> Sources;
  Sources.reserve(Plan.Sources.size());
  for (const std::string &Path : Plan.Sources) {
    Expected<SourceFile> Source = openSource(Path);
    if (!Source)
      return Source.takeError();
    Sources.push_back(std::move(*Source));
  }
  return Sources;
}

Expected<std::string> resolvePath(const std::string &Path) {
  std::unique_ptr<char, decltype(&::free)> Resolved(
      ::realpath(Path.c_str(), nullptr), &::free);
  if (!Resolved)
    return fileError(Path,
                     "failed to resolve the path: " + errnoMessage(errno));
  return std::string(Resolved.get());
}

// --- The output folder ---

/// The output folder as given and split into its parent and name.
struct OutputFolder {
  std::string Display; ///< As given, without trailing slashes.
  std::string Parent;  ///< Absolute path of the containing folder.
  std::string Base;    ///< The output folder's own name.
  std::string Full;    ///< Parent + "/" + Base.
};

Expected<OutputFolder> splitOutputFolder(StringRef OutDir) {
  if (OutDir.empty())
    return plainError("output folder path is empty");
  OutputFolder Folder;
  StringRef Trimmed = OutDir.rtrim('/');
  Folder.Display = Trimmed.empty() ? OutDir.str() : Trimmed.str();

  SmallString<256> Absolute(Folder.Display);
  if (std::error_code EC = sys::fs::make_absolute(Absolute))
    return fileError(OutDir,
                     "failed to make the path absolute: " + EC.message());
  StringRef Base = sys::path::filename(Absolute, sys::path::Style::posix);
  if (Base.empty() || Base == "/" || Base == "." || Base == "..")
    return fileError(OutDir, "output path must end in a folder name");

  Folder.Base = Base.str();
  Folder.Parent =
      sys::path::parent_path(Absolute, sys::path::Style::posix).str();
  Folder.Full = Absolute.str().str();
  return Folder;
}

Expected<bool> isEmptyFolder(const std::string &Path) {
  struct CloseDir {
    void operator()(DIR *Dir) const { ::closedir(Dir); }
  };
  std::unique_ptr<DIR, CloseDir> Dir(::opendir(Path.c_str()));
  if (!Dir)
    return fileError(Path, "failed to open the folder: " + errnoMessage(errno));
  while (const dirent *Entry = ::readdir(Dir.get())) {
    StringRef Name = Entry->d_name;
    if (Name != "." && Name != "..")
      return false;
  }
  return true;
}

/// Rejects an output folder that is a source file's folder or contains a
/// source file, because --force would delete that source.
Error checkNotAboveSources(const OutputFolder &Folder,
                           ArrayRef<SourceFile> Sources) {
  Expected<std::string> RealFolder = resolvePath(Folder.Full);
  if (!RealFolder)
    return RealFolder.takeError();
  std::string Prefix = *RealFolder;
  if (Prefix.back() != '/')
    Prefix += '/';

  for (const SourceFile &Source : Sources) {
    Expected<std::string> RealSource = resolvePath(Source.Path);
    if (!RealSource)
      return RealSource.takeError();
    if (StringRef(*RealSource).startswith(Prefix))
      return fileError(Folder.Display,
                       "output folder contains the source file '" +
                           Source.Path +
                           "'; choose an output folder outside the inputs");
  }
  return Error::success();
}

/// The state of the output path before anything is written.
enum class OutputState { Missing, Empty, NonEmpty };

Expected<OutputState> inspectOutputFolder(const OutputFolder &Folder,
                                          ArrayRef<SourceFile> Sources,
                                          bool Force) {
  struct stat Status;
  if (::lstat(Folder.Full.c_str(), &Status) != 0) {
    if (errno == ENOENT)
      return OutputState::Missing;
    return fileError(Folder.Display,
                     "failed to read the file status: " + errnoMessage(errno));
  }
  if (S_ISLNK(Status.st_mode))
    return fileError(Folder.Display, "output path is a symbolic link, "
                                     "expected a folder or nothing; pass the "
                                     "link's target instead");
  // --force replaces only folders: deleting a file that happens to sit at
  // the output path is never what a folder output asked for.
  if (!S_ISDIR(Status.st_mode))
    return fileError(Folder.Display,
                     "output path exists and is not a folder; remove the file "
                     "or choose another output path (--force replaces "
                     "folders, not files)");

  if (Error E = checkNotAboveSources(Folder, Sources))
    return E;
  Expected<bool> Empty = isEmptyFolder(Folder.Full);
  if (!Empty)
    return Empty.takeError();
  if (*Empty)
    return OutputState::Empty;
  if (!Force)
    return fileError(Folder.Display, "output folder is not empty; pass "
                                     "--force to replace it");
  return OutputState::NonEmpty;
}

/// A folder created by mkdtemp that is deleted with its contents unless
/// release() is called.
class TemporaryFolder {
public:
  static Expected<TemporaryFolder> create(const OutputFolder &Folder,
                                          StringRef Kind) {
    SmallString<256> Template(Folder.Parent);
    sys::path::append(Template, sys::path::Style::posix,
                      temporaryFolderPrefix(Folder.Base, Kind) + "XXXXXX");
    std::string Path = Template.str().str();
    if (!::mkdtemp(Path.data()))
      return fileError(Folder.Parent, "failed to create a temporary folder: " +
                                          errnoMessage(errno));
    return TemporaryFolder(std::move(Path));
  }

  TemporaryFolder(TemporaryFolder &&Other)
      : Path(std::move(Other.Path)), Owned(std::exchange(Other.Owned, false)) {}
  TemporaryFolder &operator=(TemporaryFolder &&) = delete;
  ~TemporaryFolder() {
    if (Owned)
      (void)removeTree(Path);
  }

  const std::string &path() const { return Path; }
  void release() { Owned = false; }

private:
  explicit TemporaryFolder(std::string Path) : Path(std::move(Path)) {}

  std::string Path;
  bool Owned = true;
};

Error syncFolder(const std::string &Path) {
  FileDescriptor Folder(
      ::open(Path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (Folder.get() < 0)
    return fileError(Path, "failed to open the folder: " + errnoMessage(errno));
  if (::fsync(Folder.get()) != 0)
    return fileError(Path, "failed to sync the folder: " + errnoMessage(errno));
  return Error::success();
}

/// Returns every folder that must exist inside the output folder, parents
/// before children.
std::set<std::string> collectSubfolders(const WritePlan &Plan) {
  std::set<std::string> Folders;
  for (const PlannedFile &File : Plan.Files) {
    StringRef Folder =
        sys::path::parent_path(File.Path, sys::path::Style::posix);
    for (; !Folder.empty();
         Folder = sys::path::parent_path(Folder, sys::path::Style::posix))
      Folders.insert(Folder.str());
  }
  return Folders;
}

Error createSubfolders(const std::string &Root,
                       const std::set<std::string> &Folders) {
  // std::set orders "a" before "a/b", so each parent exists before its
  // children are created.
  for (const std::string &Folder : Folders) {
    std::string Path = Root + "/" + Folder;
    if (::mkdir(Path.c_str(), 0755) != 0)
      return fileError(Path,
                       "failed to create the folder: " + errnoMessage(errno));
  }
  return Error::success();
}

// --- Writing files ---

/// Writes the files of a plan with several threads. Each thread takes the
/// next unwritten file, largest first, and the first error stops the others
/// at their next chunk.
class PlanWriter {
public:
  PlanWriter(const WritePlan &Plan, ArrayRef<SourceFile> Sources,
             std::string TempRoot, std::string DisplayRoot,
             const ExecuteOptions &Options)
      : Plan(Plan), Sources(Sources), TempRoot(std::move(TempRoot)),
        DisplayRoot(std::move(DisplayRoot)), Options(Options) {}

  Error run();

private:
  /// State owned by one thread.
  struct Job {
    std::unique_ptr<char[]> Buffer; ///< Allocated on first pread/pwrite use.
  };

  /// One contiguous copy from a source into the output file being written.
  struct CopyStep {
    const SourceFile *Source;
    uint64_t SourceOffset;
    uint64_t OutputOffset;
    uint64_t Length;
  };

  /// Returns the name of \p File in messages: its path under the folder
  /// the user named.
  std::string displayName(const PlannedFile &File) const {
    return DisplayRoot.empty() ? File.Path : DisplayRoot + "/" + File.Path;
  }

  void work();
  Error syncFiles();
  void recordError(Error E);
  Error checkStop() const;
  Error writeFile(Job &J, const PlannedFile &File);
  Error writeContent(Job &J, const PlannedFile &File, int Output,
                     const std::string &Display);
  Error copy(Job &J, const CopyStep &Step, int Output,
             const std::string &Display);
  Expected<uint64_t> copyChunkInKernel(const CopyStep &Step, uint64_t Done,
                                       uint64_t Want, int Output,
                                       const std::string &Display);
  Expected<uint64_t> copyChunkBuffered(Job &J, const CopyStep &Step,
                                       uint64_t Done, uint64_t Want, int Output,
                                       const std::string &Display);
  Error writeFill(int Output, uint64_t Offset, uint64_t Size, char Fill,
                  const std::string &Display);
  Error writeAll(int Output, const char *Data, uint64_t Size, uint64_t Offset,
                 const std::string &Display);
  void logCopy(const CopyStep &Step, const std::string &Display);

  const WritePlan &Plan;
  ArrayRef<SourceFile> Sources;
  std::string TempRoot;
  std::string DisplayRoot;
  const ExecuteOptions &Options;

  std::vector<size_t> Order;
  std::atomic<size_t> Next{0};
  std::atomic<bool> Stop{false};
  std::mutex ErrorMutex;
  Error FirstError = Error::success();
  std::mutex LogMutex;
  WritebackQueue Writeback;
};

Error PlanWriter::run() {
  Order.resize(Plan.Files.size());
  for (size_t I = 0; I < Order.size(); ++I)
    Order[I] = I;
  llvm::stable_sort(Order, [&](size_t A, size_t B) {
    return Plan.Files[A].Size > Plan.Files[B].Size;
  });

  unsigned Threads =
      Options.Jobs ? Options.Jobs : std::thread::hardware_concurrency();
  size_t Count =
      std::clamp<size_t>(Threads, 1, std::max<size_t>(Order.size(), 1));

  // The calling thread is one of the jobs. When the system refuses a new
  // thread, the jobs already started share the work.
  std::vector<std::thread> Workers;
  try {
    for (size_t I = 1; I < Count; ++I)
      Workers.emplace_back([this] { work(); });
  } catch (const std::system_error &) {
  }
  work();
  for (std::thread &Worker : Workers)
    Worker.join();
  Writeback.finish();
  if (FirstError)
    return std::move(FirstError);
  return syncFiles();
}

/// Flushes every written file to the disk. fsync through a new descriptor
/// still reports a writeback error that no one has seen yet.
Error PlanWriter::syncFiles() {
  for (const PlannedFile &File : Plan.Files) {
    if (Error E = checkStop())
      return E;
    std::string Display = displayName(File);
    std::string Path = TempRoot + "/" + File.Path;
    FileDescriptor Written(::open(Path.c_str(), O_RDONLY | O_CLOEXEC));
    if (Written.get() < 0)
      return fileError(Display, "failed to open for syncing: " + errnoMessage(errno));
    if (::fsync(Written.get()) != 0)
      return fileError(Display, "failed to sync: " + errnoMessage(errno));
  }
  return Error::success();
}

void PlanWriter::work() {
  Job J;
  while (!Stop.load()) {
    size_t Index = Next.fetch_add(1);
    if (Index >= Order.size())
      return;
    if (Error E = writeFile(J, Plan.Files[Order[Index]]))
      recordError(std::move(E));
  }
}

void PlanWriter::recordError(Error E) {
  // Only the first error is reported. Later ones are usually the other jobs
  // noticing Stop, so they are dropped.
  std::lock_guard<std::mutex> Lock(ErrorMutex);
  if (FirstError) {
    consumeError(std::move(E));
    return;
  }
  FirstError = std::move(E);
  Stop.store(true);
}

Error PlanWriter::checkStop() const {
  if (wasInterrupted())
    return plainError("interrupted");
  if (Stop.load())
    return plainError("stopped because another job failed");
  return Error::success();
}

Error PlanWriter::writeFile(Job &J, const PlannedFile &File) {
  std::string Display = displayName(File);
  std::string Path = TempRoot + "/" + File.Path;
  FileDescriptor Output(
      ::open(Path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (Output.get() < 0)
    return fileError(Display, "failed to create: " + errnoMessage(errno));

  if (Error E = writeContent(J, File, Output.get(), Display))
    return E;

  struct stat Status;
  if (::fstat(Output.get(), &Status) != 0)
    return fileError(Display,
                     "failed to read the file status: " + errnoMessage(errno));
  if (static_cast<uint64_t>(Status.st_size) != File.Size)
    return fileError(Display, "output file is " + Twine(Status.st_size) +
                                  " bytes, planned " + Twine(File.Size));

  // Writeback starts now, but the fsync waits until every file is written:
  // a thread that syncs each file before the next one stops reading while
  // the disk writes, which made a 2 GiB Hugging Face apply about 14 % slower.
  // The writeback thread starts it, so that this job goes on copying: with
  // --jobs 1 a 4 GiB Hugging Face apply took 0.86 x cp's time instead of 0.98
  // (4 interleaved repeats, benchmark machine of docs/benchmarks.md).
  Writeback.push(Output.get());
  if (::close(Output.release()) != 0)
    return fileError(Display, "failed to close: " + errnoMessage(errno));
  return Error::success();
}

Error PlanWriter::writeContent(Job &J, const PlannedFile &File, int Output,
                               const std::string &Display) {
  if (File.WholeSource) {
    const SourceFile &Source = Sources[*File.WholeSource];
    if (Source.Size != File.Size)
      return fileError(Source.Path, "source file is " + Twine(Source.Size) +
                                        " bytes, but the plan copies it whole "
                                        "as " +
                                        Twine(File.Size) + " bytes");
    return copy(J, CopyStep{&Source, 0, 0, Source.Size}, Output, Display);
  }

  if (Error E = checkStop())
    return E;
  if (Error E =
          writeAll(Output, File.Prefix.data(), File.Prefix.size(), 0, Display))
    return E;
  for (const CopyRange &Range : File.Copies) {
    if (Range.Source == ZeroFill || Range.Source == SpaceFill) {
      char Fill = Range.Source == ZeroFill ? '\0' : ' ';
      if (Error E = writeFill(Output, Range.OutputOffset, Range.Length, Fill, Display))
        return E;
      continue;
    }
    if (Range.Source == InlineBytes) {
      if (Error E = writeAll(Output, File.Inline.data() + Range.SourceOffset,
                             Range.Length, Range.OutputOffset, Display))
        return E;
      continue;
    }
    CopyStep Step{&Sources[Range.Source], Range.SourceOffset,
                  Range.OutputOffset, Range.Length};
    if (Error E = copy(J, Step, Output, Display))
      return E;
  }
  for (const CopyRange &Zeros : File.ZerosAfter)
    if (Error E = writeFill(Output, Zeros.OutputOffset, Zeros.Length, '\0', Display))
      return E;
  return Error::success();
}

Error PlanWriter::copy(Job &J, const CopyStep &Step, int Output,
                       const std::string &Display) {
  logCopy(Step, Display);

  bool UseKernelCopy = !Options.DisableCopyFileRange;
  uint64_t Done = 0;
  while (Done < Step.Length) {
    if (Error E = checkStop())
      return E;
    uint64_t Want = nextCopyLength(Step.OutputOffset + Done, Step.Length - Done,
                                   Options.ChunkSize);

    Expected<uint64_t> Copied =
        UseKernelCopy ? copyChunkInKernel(Step, Done, Want, Output, Display)
                      : copyChunkBuffered(J, Step, Done, Want, Output, Display);
    if (!Copied)
      return Copied.takeError();

    // A kernel copy of 0 bytes means the rest of this range goes through
    // pread/pwrite, which also reports a source that ends too early.
    if (*Copied == 0 && UseKernelCopy)
      UseKernelCopy = false;
    Done += *Copied;
  }
  return Error::success();
}

/// Copies up to \p Want bytes with copy_file_range. Returns 0 when the
/// caller should switch to pread/pwrite, which happens for an errno that
/// means the kernel cannot copy these files and when nothing was copied.
/// In the second case pread, not copy_file_range alone, decides whether the
/// source ended early.
Expected<uint64_t> PlanWriter::copyChunkInKernel(const CopyStep &Step,
                                                 uint64_t Done, uint64_t Want,
                                                 int Output,
                                                 const std::string &Display) {
  while (true) {
    loff_t InOffset = static_cast<loff_t>(Step.SourceOffset + Done);
    loff_t OutOffset = static_cast<loff_t>(Step.OutputOffset + Done);
    ssize_t Count = ::copy_file_range(Step.Source->File.get(), &InOffset,
                                      Output, &OutOffset, Want, 0);
    if (Count >= 0)
      return static_cast<uint64_t>(Count);
    if (errno == EINTR)
      continue;
    if (isCopyFileRangeUnsupported(errno))
      return 0;
    return fileError(Display, "failed to copy from '" + Step.Source->Path +
                                  "': " + errnoMessage(errno));
  }
}

Expected<uint64_t> PlanWriter::copyChunkBuffered(Job &J, const CopyStep &Step,
                                                 uint64_t Done, uint64_t Want,
                                                 int Output,
                                                 const std::string &Display) {
  if (!J.Buffer)
    J.Buffer = std::make_unique<char[]>(Options.ChunkSize);

  uint64_t ReadOffset = Step.SourceOffset + Done;
  ssize_t Count = ::pread(Step.Source->File.get(), J.Buffer.get(), Want,
                          static_cast<off_t>(ReadOffset));
  if (Count < 0 && errno == EINTR)
    return 0;
  if (Count < 0)
    return fileError(Step.Source->Path,
                     "failed to read: " + errnoMessage(errno));
  if (Count == 0)
    return fileError(Step.Source->Path,
                     "file ends at offset " + Twine(ReadOffset) +
                         ", but the plan copies up to offset " +
                         Twine(Step.SourceOffset + Step.Length));

  if (Error E = writeAll(Output, J.Buffer.get(), Count,
                         Step.OutputOffset + Done, Display))
    return E;
  return static_cast<uint64_t>(Count);
}

Error PlanWriter::writeFill(int Output, uint64_t Offset, uint64_t Size,
                            char Fill, const std::string &Display) {
  char Bytes[4096];
  std::memset(Bytes, Fill, sizeof(Bytes));
  while (Size > 0) {
    uint64_t Chunk = std::min<uint64_t>(Size, sizeof(Bytes));
    if (Error E = writeAll(Output, Bytes, Chunk, Offset, Display))
      return E;
    Offset += Chunk;
    Size -= Chunk;
  }
  return Error::success();
}

Error PlanWriter::writeAll(int Output, const char *Data, uint64_t Size,
                           uint64_t Offset, const std::string &Display) {
  uint64_t Done = 0;
  while (Done < Size) {
    size_t Want = std::min<uint64_t>(Size - Done, SSIZE_MAX);
    ssize_t Count =
        ::pwrite(Output, Data + Done, Want, static_cast<off_t>(Offset + Done));
    if (Count < 0 && errno == EINTR)
      continue;
    if (Count < 0)
      return fileError(Display, "failed to write: " + errnoMessage(errno));
    Done += static_cast<uint64_t>(Count);
  }
  return Error::success();
}

void PlanWriter::logCopy(const CopyStep &Step, const std::string &Display) {
  if (!Options.Log)
    return;
  std::lock_guard<std::mutex> Lock(LogMutex);
  *Options.Log << "copy " << Step.Length << " bytes from '" << Step.Source->Path
               << "' at " << Step.SourceOffset << " to '" << Display << "' at "
               << Step.OutputOffset << "\n";
}

// --- Installing the result ---

Error renamePath(const std::string &From, const std::string &To,
                 StringRef Display) {
  if (::rename(From.c_str(), To.c_str()) != 0)
    return fileError(Display, "failed to rename '" + From + "' to '" + To +
                                  "': " + errnoMessage(errno));
  return Error::success();
}

/// Moves the non-empty old output folder aside, puts the new one in its
/// place, then deletes the old one.
Error replaceOutputFolder(TemporaryFolder &Temp, const OutputFolder &Folder) {
  Expected<TemporaryFolder> Aside = TemporaryFolder::create(Folder, "old");
  if (!Aside)
    return Aside.takeError();

  // rename() replaces the empty folder that mkdtemp just created. After
  // that the aside path holds the old output, which no failure path may
  // delete, so the guard lets go of it here.
  Aside->release();
  if (Error E = renamePath(Folder.Full, Aside->path(), Folder.Display)) {
    (void)::rmdir(Aside->path().c_str());
    return E;
  }

  if (Error E = renamePath(Temp.path(), Folder.Full, Folder.Display)) {
    // Put the old folder back so the output path is left as it was.
    if (::rename(Aside->path().c_str(), Folder.Full.c_str()) != 0)
      return joinErrors(
          std::move(E),
          fileError(Folder.Display,
                    "the old output folder is now at '" + Aside->path() + "'"));
    return E;
  }
  Temp.release();

  if (std::error_code EC = removeTree(Aside->path()))
    return fileError(Folder.Display,
                     "the new output folder is in place, but deleting the "
                     "old one at '" +
                         Aside->path() + "' failed: " + EC.message());
  return Error::success();
}

/// Moves the finished temporary folder to the output path.
Error installOutputFolder(TemporaryFolder &Temp, const OutputFolder &Folder,
                          OutputState State) {
  if (wasInterrupted())
    return plainError("interrupted");

  if (State == OutputState::NonEmpty) {
    if (Error E = replaceOutputFolder(Temp, Folder))
      return E;
  } else {
    // rename() atomically replaces an empty folder, and fails if the folder
    // gained entries since it was inspected.
    if (Error E = renamePath(Temp.path(), Folder.Full, Folder.Display))
      return E;
    Temp.release();
  }
  return syncFolder(Folder.Parent);
}

/// Writes every file into \p Temp and syncs them. Messages name a file as
/// \p DisplayRoot, the folder the user named (empty for the current one),
/// followed by its planned path.
Error writeAndSync(const WritePlan &Plan, ArrayRef<SourceFile> Sources,
                   const TemporaryFolder &Temp, StringRef DisplayRoot,
                   const ExecuteOptions &Options) {
  // mkdtemp creates the folder with mode 0700, so it gets the usual 0755.
  // umask is not applied because reading it means changing it for the
  // whole process.
  if (::chmod(Temp.path().c_str(), 0755) != 0)
    return fileError(Temp.path(),
                     "failed to set the folder mode: " + errnoMessage(errno));
  std::set<std::string> Subfolders = collectSubfolders(Plan);
  if (Error E = createSubfolders(Temp.path(), Subfolders))
    return E;

  PlanWriter Writer(Plan, Sources, Temp.path(), DisplayRoot.str(), Options);
  if (Error E = Writer.run())
    return E;

  for (const std::string &Subfolder : Subfolders)
    if (Error E = syncFolder(Temp.path() + "/" + Subfolder))
      return E;
  return syncFolder(Temp.path());
}

} // namespace

// Linux gives a new page-cache folio no more pages than the alignment of its
// first page index allows (__filemap_get_folio in 6.13), and copy_file_range
// writes in pieces that start where the call starts. Calls that all started
// at a tensor's unaligned offset left 4 to 32 KiB folios. The flusher then
// sent requests half the size: copying a 1 GiB folder took 540 write
// requests instead of cp's 290, and its sync took 30 % longer (ext4 on a
// virtio disk, Linux 6.18, requests counted in /proc/diskstats).
uint64_t nextCopyLength(uint64_t OutputOffset, uint64_t Left, uint64_t ChunkSize) {
  uint64_t Want = std::min<uint64_t>(Left, ChunkSize - OutputOffset % ChunkSize);
  if (OutputOffset % CopyStartAlignment != 0)
    Want = std::min<uint64_t>(Want, CopyStartAlignment - OutputOffset % CopyStartAlignment);
  return Want;
}

std::vector<std::string> findLeftoverFolders(StringRef Out) {
  SmallString<256> Absolute(Out);
  sys::fs::make_absolute(Absolute);
  sys::path::remove_dots(Absolute, /*remove_dot_dot=*/true);
  StringRef Parent = sys::path::parent_path(Absolute);
  std::string Base = sys::path::filename(Absolute).str();

  std::vector<std::string> Found;
  std::error_code EC;
  for (sys::fs::directory_iterator It(Parent, EC), End; It != End && !EC; It.increment(EC)) {
    StringRef Name = sys::path::filename(It->path());
    for (StringRef Kind : {"tmp", "old"}) {
      std::string Prefix = temporaryFolderPrefix(Base, Kind);
      if (Name.startswith(Prefix) && Name.size() == Prefix.size() + 6)
        Found.push_back(It->path());
    }
  }
  llvm::sort(Found);
  return Found;
}

Error executePlan(const WritePlan &Plan, StringRef OutDir,
                  const ExecuteOptions &Options) {
  if (Error E = checkPlan(Plan, Options))
    return E;
  Expected<OutputFolder> Folder = splitOutputFolder(OutDir);
  if (!Folder)
    return Folder.takeError();
  Expected<std::vector<SourceFile>> Sources = openSources(Plan);
  if (!Sources)
    return Sources.takeError();
  Expected<OutputState> State =
      inspectOutputFolder(*Folder, *Sources, Options.Force);
  if (!State)
    return State.takeError();

  Expected<TemporaryFolder> Temp = TemporaryFolder::create(*Folder, "tmp");
  if (!Temp)
    return Temp.takeError();
  if (Error E = writeAndSync(Plan, *Sources, *Temp, Folder->Display, Options))
    return E;
  return installOutputFolder(*Temp, *Folder, *State);
}

Error executePlanAsFiles(const WritePlan &Plan, StringRef OutFile,
                         const ExecuteOptions &Options) {
  if (Error E = checkPlan(Plan, Options))
    return E;
  Expected<OutputFolder> Target = splitOutputFolder(OutFile);
  if (!Target)
    return Target.takeError();
  Expected<std::vector<SourceFile>> Sources = openSources(Plan);
  if (!Sources)
    return Sources.takeError();

  // Each planned file lands beside OutFile; none may be a source, and none
  // may replace an existing file without --force.
  std::set<std::string> RealSources;
  for (const SourceFile &Source : *Sources)
    if (Expected<std::string> Real = resolvePath(Source.Path))
      RealSources.insert(*Real);
    else
      return Real.takeError();
  for (const PlannedFile &File : Plan.Files) {
    if (StringRef(File.Path).contains('/'))
      return fileError(File.Path, "a file-set output cannot have subfolders");
    std::string Path = Target->Parent + "/" + File.Path;
    struct stat Status;
    if (::lstat(Path.c_str(), &Status) != 0)
      continue;
    Expected<std::string> Real = resolvePath(Path);
    if (Real && RealSources.count(*Real))
      return fileError(Path, "is an input of this run; choose another output name");
    if (!Real)
      consumeError(Real.takeError());
    if (!S_ISREG(Status.st_mode))
      return fileError(Path, "exists and is not a regular file");
    if (!Options.Force)
      return fileError(Path, "already exists; pass --force to replace it");
  }

  Expected<TemporaryFolder> Temp = TemporaryFolder::create(*Target, "tmp");
  if (!Temp)
    return Temp.takeError();
  // The files land beside OutFile, so messages name them in its folder.
  StringRef Parent = sys::path::parent_path(OutFile);
  if (Error E = writeAndSync(Plan, *Sources, *Temp, Parent, Options))
    return E;
  if (wasInterrupted())
    return plainError("interrupted");

  // NOTE: the files are renamed one by one; a failure part-way leaves the
  // earlier ones in place, each complete, and the error says so.
  for (const PlannedFile &File : Plan.Files) {
    std::string Path = Target->Parent + "/" + File.Path;
    if (Error E = renamePath(Temp->path() + "/" + File.Path, Path, Path))
      return joinErrors(std::move(E),
                        plainError("earlier files of this output were already moved into place"));
  }
  (void)::rmdir(Temp->path().c_str());
  Temp->release();
  return syncFolder(Target->Parent);
}

void installInterruptHandlers() {
  struct sigaction Action = {};
  Action.sa_handler = handleInterrupt;
  sigemptyset(&Action.sa_mask);
  // Interrupted system calls restart; the copy loops poll the flag between
  // chunks instead.
  Action.sa_flags = SA_RESTART;
  ::sigaction(SIGINT, &Action, nullptr);
  ::sigaction(SIGTERM, &Action, nullptr);
}

bool wasInterrupted() { return Interrupted.load(); }

} // namespace rysc
