// Tests for the plan executor on real files in a per-test folder under /tmp.
#include "backends/exec/Executor.h"
#include "backends/exec/Writeback.h"

#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

using namespace rysc;

namespace {

constexpr size_t SizeA = 300001;
constexpr size_t SizeB = 70003;
constexpr size_t SizeWhole = 12345;

/// Returns \p Size bytes from a linear congruential generator, so a copy
/// from a wrong offset gives different bytes.
std::string patternBytes(size_t Size, uint32_t Seed) {
  std::string Bytes(Size, '\0');
  uint32_t State = Seed;
  for (char &Byte : Bytes) {
    State = State * 1664525u + 1013904223u;
    Byte = static_cast<char>(State >> 24);
  }
  return Bytes;
}

void writeFile(const std::string &Path, const std::string &Bytes) {
  std::ofstream Out(Path, std::ios::binary);
  Out << Bytes;
  ASSERT_TRUE(Out.good()) << Path;
}

std::string readFile(const std::string &Path) {
  std::ifstream In(Path, std::ios::binary);
  std::ostringstream Bytes;
  Bytes << In.rdbuf();
  return Bytes.str();
}

/// Returns the names in a folder, sorted.
std::vector<std::string> listFolder(const std::string &Path) {
  std::vector<std::string> Names;
  for (const auto &Entry : std::filesystem::directory_iterator(Path))
    Names.push_back(Entry.path().filename().string());
  std::sort(Names.begin(), Names.end());
  return Names;
}

/// Returns every path below a folder, relative to it and sorted.
std::vector<std::string> listTree(const std::string &Path) {
  std::vector<std::string> Names;
  for (const auto &Entry : std::filesystem::recursive_directory_iterator(Path))
    Names.push_back(std::filesystem::relative(Entry.path(), Path).string());
  std::sort(Names.begin(), Names.end());
  return Names;
}

bool exists(const std::string &Path) {
  struct stat Status;
  return ::lstat(Path.c_str(), &Status) == 0;
}

/// Appends a copy of \p Length bytes at \p SourceOffset of source \p Source
/// to the end of \p File.
void addCopy(PlannedFile &File, uint32_t Source, uint64_t SourceOffset,
             uint64_t Length) {
  if (File.Copies.empty())
    File.Size = File.Prefix.size();
  File.Copies.push_back({Source, SourceOffset, Length, File.Size});
  File.Size += Length;
}

PlannedFile prefixOnly(const std::string &Path, const std::string &Prefix) {
  PlannedFile File;
  File.Path = Path;
  File.Prefix = Prefix;
  File.Size = Prefix.size();
  return File;
}

class ExecutorTest : public ::testing::Test {
protected:
  void SetUp() override {
    char Template[] = "/tmp/rysc-executor-test-XXXXXX";
    ASSERT_NE(::mkdtemp(Template), nullptr);
    Root = Template;
    Out = Root + "/out";
    ASSERT_EQ(::mkdir((Root + "/src").c_str(), 0755), 0);

    A = patternBytes(SizeA, 1);
    B = patternBytes(SizeB, 2);
    Whole = patternBytes(SizeWhole, 3);
    PathA = Root + "/src/a.bin";
    PathB = Root + "/src/b.bin";
    PathWhole = Root + "/src/tokenizer.json";
    writeFile(PathA, A);
    writeFile(PathB, B);
    writeFile(PathWhole, Whole);
  }

  void TearDown() override { std::filesystem::remove_all(Root); }

  /// Returns a plan with a prefix and copies from several sources, a nested
  /// path, a whole-file copy, a prefix-only file, an empty file and a
  /// zero-length copy.
  WritePlan makePlan() const {
    WritePlan Plan;
    Plan.Sources = {PathA, PathB, PathWhole};

    PlannedFile First =
        prefixOnly("model-00001-of-00002.safetensors", "HEADER-ONE");
    addCopy(First, 0, 100, 150000);
    addCopy(First, 1, 7, 20000);
    addCopy(First, 0, 0, 10);
    Plan.Files.push_back(First);

    PlannedFile Second =
        prefixOnly("sub/dir/model-00002-of-00002.safetensors", "");
    addCopy(Second, 1, 0, SizeB);
    addCopy(Second, 0, SizeA - 1000, 1000);
    Plan.Files.push_back(Second);

    Plan.Files.push_back(
        prefixOnly("config.json", "{\"num_hidden_layers\": 40}\n"));

    PlannedFile Copied;
    Copied.Path = "copied/tokenizer.json";
    Copied.WholeSource = 2;
    Copied.Size = SizeWhole;
    Plan.Files.push_back(Copied);

    Plan.Files.push_back(prefixOnly("empty.bin", ""));

    PlannedFile ZeroCopy = prefixOnly("zero-length-copy.bin", "P");
    addCopy(ZeroCopy, 0, 5, 0);
    Plan.Files.push_back(ZeroCopy);
    return Plan;
  }

  /// Checks that \p Folder contains exactly what makePlan() describes.
  void expectPlanOutput(const std::string &Folder) const {
    EXPECT_EQ(listTree(Folder),
              (std::vector<std::string>{
                  "config.json", "copied", "copied/tokenizer.json", "empty.bin",
                  "model-00001-of-00002.safetensors", "sub", "sub/dir",
                  "sub/dir/model-00002-of-00002.safetensors",
                  "zero-length-copy.bin"}));
    EXPECT_EQ(readFile(Folder + "/model-00001-of-00002.safetensors"),
              "HEADER-ONE" + A.substr(100, 150000) + B.substr(7, 20000) +
                  A.substr(0, 10));
    EXPECT_EQ(readFile(Folder + "/sub/dir/model-00002-of-00002.safetensors"),
              B + A.substr(SizeA - 1000));
    EXPECT_EQ(readFile(Folder + "/config.json"),
              "{\"num_hidden_layers\": 40}\n");
    EXPECT_EQ(readFile(Folder + "/copied/tokenizer.json"), Whole);
    EXPECT_EQ(readFile(Folder + "/empty.bin"), "");
    EXPECT_EQ(readFile(Folder + "/zero-length-copy.bin"), "P");
  }

  /// Checks that the sources are unchanged and that nothing but them is
  /// left beside the output path.
  void expectOnlySources() const {
    EXPECT_EQ(listFolder(Root), (std::vector<std::string>{"src"}));
    EXPECT_EQ(readFile(PathA), A);
    EXPECT_EQ(readFile(PathB), B);
    EXPECT_EQ(readFile(PathWhole), Whole);
  }

  std::string run(const WritePlan &Plan, const std::string &OutDir,
                  const ExecuteOptions &Options) const {
    return llvm::toString(executePlan(Plan, OutDir, Options));
  }

  std::string Root, Out;
  std::string A, B, Whole;
  std::string PathA, PathB, PathWhole;
};

class ExecutorCopyTest
    : public ExecutorTest,
      public ::testing::WithParamInterface<std::tuple<bool, unsigned>> {};

TEST_P(ExecutorCopyTest, WritesPlannedBytes) {
  ExecuteOptions Options;
  Options.DisableCopyFileRange = std::get<0>(GetParam());
  Options.Jobs = std::get<1>(GetParam());
  Options.ChunkSize = 4096;

  ASSERT_EQ(run(makePlan(), Out, Options), "");
  expectPlanOutput(Out);
  EXPECT_EQ(listFolder(Root), (std::vector<std::string>{"out", "src"}));

  mode_t Mask = ::umask(0);
  ::umask(Mask);
  struct stat Status;
  ASSERT_EQ(::stat((Out + "/config.json").c_str(), &Status), 0);
  EXPECT_EQ(Status.st_mode & 0777, 0644u & ~Mask);
  ASSERT_EQ(::stat(Out.c_str(), &Status), 0);
  EXPECT_EQ(Status.st_mode & 0777, 0755u);
}

INSTANTIATE_TEST_SUITE_P(CopyPathsAndJobs, ExecutorCopyTest,
                         ::testing::Combine(::testing::Bool(),
                                            ::testing::Values(0u, 1u, 4u)));

class ExecutorInlineTest
    : public ExecutorTest,
      public ::testing::WithParamInterface<std::tuple<unsigned, bool>> {
protected:
  /// Returns options with the parameters' job count and copy path, and
  /// chunks of 4 KiB.
  ExecuteOptions options() const {
    ExecuteOptions Options;
    Options.Jobs = std::get<0>(GetParam());
    Options.DisableCopyFileRange = std::get<1>(GetParam());
    Options.ChunkSize = 4096;
    return Options;
  }
};

TEST_P(ExecutorInlineTest, InlineBytesBetweenCopies) {
  ExecuteOptions Options = options();

  // A GGUF-like header: a prefix, an array copied from a source, more
  // header bytes written inline, padding, then tensor data.
  WritePlan Plan = makePlan();
  PlannedFile Header = prefixOnly("header.gguf", "GGUF");
  Header.Inline = "xxKEYSyy";
  Header.Copies = {{0, 1000, 5000, 4},
                   {InlineBytes, 2, 4, 5004},
                   {ZeroFill, 0, 12, 5008},
                   {1, 0, SizeB, 5020}};
  Header.Size = 5020 + SizeB;
  Plan.Files.push_back(Header);

  ASSERT_EQ(run(Plan, Out, Options), "");
  EXPECT_EQ(readFile(Out + "/header.gguf"),
            "GGUF" + A.substr(1000, 5000) + "KEYS" + std::string(12, '\0') + B);
  std::filesystem::remove(Out + "/header.gguf");
  expectPlanOutput(Out);
}

INSTANTIATE_TEST_SUITE_P(JobsAndCopyPaths, ExecutorInlineTest,
                         ::testing::Combine(::testing::Values(1u, 3u), ::testing::Bool()));

TEST_F(ExecutorTest, InlineBytesOutsideTheBufferRejected) {
  WritePlan Plan;
  Plan.Sources = {PathA};
  PlannedFile File = prefixOnly("header.gguf", "GGUF");
  File.Inline = "KEYS";
  File.Copies = {{InlineBytes, 2, 4, 4}};
  File.Size = 8;
  Plan.Files.push_back(File);

  EXPECT_EQ(run(Plan, Out, ExecuteOptions()),
            "'header.gguf': copy 0 writes inline bytes 2 to 6 of 4");
  expectOnlySources();
}

TEST_P(ExecutorInlineTest, ZerosAfterOverwriteCopiedPadding) {
  ExecuteOptions Options = options();

  // Two "tensors" copied in one range with the source bytes between them,
  // which are then zeroed as padding.
  WritePlan Plan = makePlan();
  PlannedFile File = prefixOnly("merged.gguf", "GG");
  File.Copies = {{0, 100, 9000, 2}};
  File.ZerosAfter = {{ZeroFill, 0, 24, 2 + 4000}, {ZeroFill, 0, 1, 2 + 8999}};
  File.Size = 9002;
  Plan.Files.push_back(File);

  ASSERT_EQ(run(Plan, Out, Options), "");
  std::string Expected = "GG" + A.substr(100, 9000);
  Expected.replace(2 + 4000, 24, std::string(24, '\0'));
  Expected[2 + 8999] = '\0';
  EXPECT_EQ(readFile(Out + "/merged.gguf"), Expected);
}

TEST_P(ExecutorInlineTest, SpaceFillWritesSpaces) {
  ExecuteOptions Options = options();
  WritePlan Plan = makePlan();
  PlannedFile File = prefixOnly("padded.safetensors", "{}");
  File.Copies = {{SpaceFill, 0, 5000, 2}, {0, 7, 10, 5002}};
  File.Size = 5012;
  Plan.Files.push_back(File);

  ASSERT_EQ(run(Plan, Out, Options), "");
  EXPECT_EQ(readFile(Out + "/padded.safetensors"), "{}" + std::string(5000, ' ') + A.substr(7, 10));
}

TEST_F(ExecutorTest, ZerosAfterPastTheEndRejected) {
  WritePlan Plan;
  Plan.Sources = {PathA};
  PlannedFile File = prefixOnly("merged.gguf", "GGUF");
  File.ZerosAfter = {{ZeroFill, 0, 2, 3}};
  Plan.Files.push_back(File);

  EXPECT_EQ(run(Plan, Out, ExecuteOptions()),
            "'merged.gguf': zeroed range at 3 of 2 bytes ends past the file's 4 bytes");
  expectOnlySources();
}

TEST_F(ExecutorTest, CopyPathsGiveIdenticalBytes) {
  ExecuteOptions Kernel;
  Kernel.ChunkSize = 1000;
  ExecuteOptions Buffered = Kernel;
  Buffered.DisableCopyFileRange = true;

  ASSERT_EQ(run(makePlan(), Root + "/kernel", Kernel), "");
  ASSERT_EQ(run(makePlan(), Root + "/buffered", Buffered), "");

  std::vector<std::string> Paths = listTree(Root + "/kernel");
  EXPECT_EQ(Paths, listTree(Root + "/buffered"));
  for (const std::string &Path : Paths) {
    SCOPED_TRACE(Path);
    if (std::filesystem::is_regular_file(Root + "/kernel/" + Path)) {
      EXPECT_EQ(readFile(Root + "/kernel/" + Path),
                readFile(Root + "/buffered/" + Path));
    }
  }
}

TEST_F(ExecutorTest, LogsOneLinePerCopy) {
  std::string Log;
  llvm::raw_string_ostream LogStream(Log);
  ExecuteOptions Options;
  Options.Jobs = 1;
  Options.Log = &LogStream;

  ASSERT_EQ(run(makePlan(), Out, Options), "");
  LogStream.flush();

  // One job writes the files largest first.
  std::string First = Out + "/model-00001-of-00002.safetensors";
  std::string Second = Out + "/sub/dir/model-00002-of-00002.safetensors";
  EXPECT_EQ(Log, "copy 150000 bytes from '" + PathA + "' at 100 to '" + First +
                     "' at 10\n"
                     "copy 20000 bytes from '" +
                     PathB + "' at 7 to '" + First +
                     "' at 150010\n"
                     "copy 10 bytes from '" +
                     PathA + "' at 0 to '" + First +
                     "' at 170010\n"
                     "copy 70003 bytes from '" +
                     PathB + "' at 0 to '" + Second +
                     "' at 0\n"
                     "copy 1000 bytes from '" +
                     PathA + "' at 299001 to '" + Second +
                     "' at 70003\n"
                     "copy 12345 bytes from '" +
                     PathWhole + "' at 0 to '" + Out +
                     "/copied/tokenizer.json' at 0\n"
                     "copy 0 bytes from '" +
                     PathA + "' at 5 to '" + Out +
                     "/zero-length-copy.bin' at 1\n");
}

TEST_F(ExecutorTest, EmptyPlanMakesEmptyFolder) {
  ASSERT_EQ(run(WritePlan(), Out, ExecuteOptions()), "");
  EXPECT_EQ(listFolder(Out), std::vector<std::string>());
  EXPECT_EQ(listFolder(Root), (std::vector<std::string>{"out", "src"}));
}

TEST_F(ExecutorTest, NonEmptyOutDirWithoutForce) {
  ASSERT_EQ(::mkdir(Out.c_str(), 0755), 0);
  writeFile(Out + "/keep.txt", "old");

  EXPECT_EQ(run(makePlan(), Out, ExecuteOptions()),
            "'" + Out +
                "': output folder is not empty; pass --force to "
                "replace it");
  EXPECT_EQ(listFolder(Out), (std::vector<std::string>{"keep.txt"}));
  EXPECT_EQ(readFile(Out + "/keep.txt"), "old");
  EXPECT_EQ(listFolder(Root), (std::vector<std::string>{"out", "src"}));
}

TEST_F(ExecutorTest, ForceReplacesNonEmptyOutDir) {
  ASSERT_EQ(::mkdir(Out.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((Out + "/old-folder").c_str(), 0755), 0);
  writeFile(Out + "/old-folder/keep.txt", "old");
  // A link to a source inside the old folder: deleting the old folder must
  // remove the link, not the source.
  ASSERT_EQ(::symlink(PathA.c_str(), (Out + "/link-to-a").c_str()), 0);
  ExecuteOptions Options;
  Options.Force = true;

  ASSERT_EQ(run(makePlan(), Out, Options), "");
  expectPlanOutput(Out);
  EXPECT_EQ(listFolder(Root), (std::vector<std::string>{"out", "src"}));
  EXPECT_EQ(readFile(PathA), A);
}

TEST_F(ExecutorTest, EmptyOutDirIsReplaced) {
  ASSERT_EQ(::mkdir(Out.c_str(), 0755), 0);
  ASSERT_EQ(run(makePlan(), Out + "/", ExecuteOptions()), "");
  expectPlanOutput(Out);
  EXPECT_EQ(listFolder(Root), (std::vector<std::string>{"out", "src"}));
}

TEST_F(ExecutorTest, OutDirIsSourceFolder) {
  ExecuteOptions Options;
  Options.Force = true;
  std::string SourceFolder = Root + "/src";
  std::string Expected = "'" + SourceFolder +
                         "': output folder contains the source file '" + PathA +
                         "'; choose an output folder outside the inputs";

  EXPECT_EQ(run(makePlan(), SourceFolder, Options), Expected);
  EXPECT_EQ(run(makePlan(), SourceFolder, ExecuteOptions()), Expected);
  expectOnlySources();
  EXPECT_EQ(listFolder(SourceFolder),
            (std::vector<std::string>{"a.bin", "b.bin", "tokenizer.json"}));
}

TEST_F(ExecutorTest, OutDirContainsSourceFolder) {
  ExecuteOptions Options;
  Options.Force = true;
  EXPECT_EQ(run(makePlan(), Root, Options),
            "'" + Root + "': output folder contains the source file '" + PathA +
                "'; choose an output folder outside the inputs");
  expectOnlySources();
}

TEST_F(ExecutorTest, OutDirReachesSourcesThroughLink) {
  ASSERT_EQ(::mkdir((Root + "/other").c_str(), 0755), 0);
  ASSERT_EQ(::symlink(Root.c_str(), (Root + "/other/alias").c_str()), 0);
  std::string OutDir = Root + "/other/alias/src";
  ExecuteOptions Options;
  Options.Force = true;

  EXPECT_EQ(run(makePlan(), OutDir, Options),
            "'" + OutDir + "': output folder contains the source file '" +
                PathA + "'; choose an output folder outside the inputs");
  EXPECT_EQ(readFile(PathA), A);
  EXPECT_EQ(listFolder(Root + "/src"),
            (std::vector<std::string>{"a.bin", "b.bin", "tokenizer.json"}));
}

TEST_F(ExecutorTest, OutDirIsLinkOrFile) {
  ASSERT_EQ(::symlink((Root + "/src").c_str(), Out.c_str()), 0);
  ExecuteOptions Options;
  Options.Force = true;
  EXPECT_EQ(run(makePlan(), Out, Options),
            "'" + Out +
                "': output path is a symbolic link, expected a folder "
                "or nothing; pass the link's target instead");

  std::string File = Root + "/file";
  writeFile(File, "x");
  EXPECT_EQ(run(makePlan(), File, Options),
            "'" + File +
                "': output path exists and is not a folder; remove the file "
                "or choose another output path (--force replaces folders, not "
                "files)");
  EXPECT_EQ(readFile(File), "x");
}

TEST_F(ExecutorTest, OutDirWithoutName) {
  EXPECT_EQ(run(makePlan(), Root + "/.", ExecuteOptions()),
            "'" + Root + "/.': output path must end in a folder name");
  EXPECT_EQ(run(makePlan(), Root + "/src/..", ExecuteOptions()),
            "'" + Root + "/src/..': output path must end in a folder name");
  EXPECT_EQ(run(makePlan(), "/", ExecuteOptions()),
            "'/': output path must end in a folder name");
  EXPECT_EQ(run(makePlan(), "", ExecuteOptions()),
            "output folder path is empty");
  expectOnlySources();
}

TEST_F(ExecutorTest, MissingParentFolder) {
  EXPECT_EQ(run(makePlan(), Root + "/no/such/out", ExecuteOptions()),
            "'" + Root +
                "/no/such': failed to create a temporary folder: No "
                "such file or directory");
  expectOnlySources();
}

class ExecutorShortSourceTest : public ExecutorTest,
                                public ::testing::WithParamInterface<bool> {};

TEST_P(ExecutorShortSourceTest, SourceShorterThanPlanned) {
  WritePlan Plan = makePlan();
  PlannedFile Bad = prefixOnly("bad.bin", "HEAD");
  addCopy(Bad, 0, SizeA - 10, 100);
  Plan.Files.push_back(Bad);
  ExecuteOptions Options;
  Options.DisableCopyFileRange = GetParam();
  Options.ChunkSize = 64;

  EXPECT_EQ(run(Plan, Out, Options),
            "'" + PathA +
                "': file ends at offset 300001, but the plan copies "
                "up to offset 300091");
  EXPECT_FALSE(exists(Out));
  expectOnlySources();
}

INSTANTIATE_TEST_SUITE_P(CopyPaths, ExecutorShortSourceTest, ::testing::Bool());

TEST_F(ExecutorTest, FirstErrorIsReported) {
  // Eight files written by four jobs. The failing file is the largest, so
  // it is started first and the other jobs are mid-copy when it fails. Their
  // "stopped" errors must not replace the real one.
  WritePlan Plan;
  Plan.Sources = {PathA};
  for (int I = 0; I < 7; ++I) {
    PlannedFile File = prefixOnly("part-" + std::to_string(I), "");
    addCopy(File, 0, 0, SizeA);
    Plan.Files.push_back(File);
  }
  PlannedFile Bad = prefixOnly("part-bad", "");
  addCopy(Bad, 0, 0, SizeA + 1);
  Plan.Files.push_back(Bad);
  ExecuteOptions Options;
  Options.Jobs = 4;
  Options.ChunkSize = 512;
  Options.DisableCopyFileRange = true;

  EXPECT_EQ(run(Plan, Out, Options),
            "'" + PathA +
                "': file ends at offset 300001, but the plan copies "
                "up to offset 300002");
  EXPECT_FALSE(exists(Out));
  expectOnlySources();
}

TEST_F(ExecutorTest, WholeSourceSizeMismatch) {
  WritePlan Plan = makePlan();
  Plan.Files[3].Size = SizeWhole - 1;
  EXPECT_EQ(run(Plan, Out, ExecuteOptions()),
            "'" + PathWhole +
                "': source file is 12345 bytes, but the plan "
                "copies it whole as 12344 bytes");
  expectOnlySources();
}

TEST_F(ExecutorTest, MissingSource) {
  WritePlan Plan = makePlan();
  Plan.Sources[1] = Root + "/src/missing.bin";
  EXPECT_EQ(run(Plan, Out, ExecuteOptions()),
            "'" + Root +
                "/src/missing.bin': failed to open: No such file or "
                "directory");
  expectOnlySources();
}

TEST_F(ExecutorTest, SourceIsAFolder) {
  WritePlan Plan = makePlan();
  Plan.Sources[1] = Root + "/src";
  EXPECT_EQ(run(Plan, Out, ExecuteOptions()),
            "'" + Root + "/src': not a regular file");
  expectOnlySources();
}

TEST_F(ExecutorTest, BadOutputPaths) {
  const std::pair<std::string, std::string> Cases[] = {
      {"/etc/passwd", "'/etc/passwd': output path is absolute, expected a "
                      "path relative to the output folder"},
      {"a/../b", "'a/../b': output path contains '..', expected a path "
                 "inside the output folder"},
      {"..", "'..': output path contains '..', expected a path inside the "
             "output folder"},
      {"a/..", "'a/..': output path contains '..', expected a path inside "
               "the output folder"},
      {"a//b", "'a//b': output path has an empty component"},
      {"a/", "'a/': output path has an empty component"},
      {"", "'': output path is empty"},
      {"./a", "'./a': output path contains '.', expected a path without it"},
      {std::string("a\0b", 3), "'a\\0b': output path contains a NUL byte"},
  };
  for (const auto &[Path, Message] : Cases) {
    SCOPED_TRACE(Path);
    WritePlan Plan = makePlan();
    Plan.Files.push_back(prefixOnly(Path, "x"));
    EXPECT_EQ(run(Plan, Out, ExecuteOptions()), Message);
    expectOnlySources();
  }
}

TEST_F(ExecutorTest, ConflictingOutputPaths) {
  WritePlan Twice = makePlan();
  Twice.Files.push_back(prefixOnly("config.json", "again"));
  EXPECT_EQ(run(Twice, Out, ExecuteOptions()),
            "'config.json': output path is listed twice in the plan");

  WritePlan FileAndFolder = makePlan();
  FileAndFolder.Files.push_back(prefixOnly("sub", "x"));
  EXPECT_EQ(run(FileAndFolder, Out, ExecuteOptions()),
            "'sub': output path is both a file and the folder of "
            "'sub/dir/model-00002-of-00002.safetensors'");
  expectOnlySources();
}

TEST_F(ExecutorTest, InconsistentPlans) {
  WritePlan BadSource = makePlan();
  BadSource.Files[0].Copies[1].Source = 7;
  EXPECT_EQ(run(BadSource, Out, ExecuteOptions()),
            "'model-00001-of-00002.safetensors': copy 1 reads source 7 but "
            "the plan has 3 sources");

  WritePlan Gap = makePlan();
  Gap.Files[0].Copies[2].OutputOffset += 1;
  EXPECT_EQ(run(Gap, Out, ExecuteOptions()),
            "'model-00001-of-00002.safetensors': copy 2 starts at output "
            "offset 170011, expected 170010");

  WritePlan WrongSize = makePlan();
  WrongSize.Files[1].Size += 1;
  EXPECT_EQ(run(WrongSize, Out, ExecuteOptions()),
            "'sub/dir/model-00002-of-00002.safetensors': planned size is "
            "71004 bytes but the prefix and copies end at 71003");

  WritePlan Overflow = makePlan();
  Overflow.Files[0].Copies[2].Length = UINT64_MAX;
  EXPECT_EQ(run(Overflow, Out, ExecuteOptions()),
            "'model-00001-of-00002.safetensors': copy 2 of "
            "18446744073709551615 bytes overflows 64-bit offsets");

  WritePlan WholeWithPrefix = makePlan();
  WholeWithPrefix.Files[3].Prefix = "x";
  EXPECT_EQ(run(WholeWithPrefix, Out, ExecuteOptions()),
            "'copied/tokenizer.json': plan copies a whole source file but "
            "also lists a prefix or copies");

  WritePlan WholeBadSource = makePlan();
  WholeBadSource.Files[3].WholeSource = 3;
  EXPECT_EQ(run(WholeBadSource, Out, ExecuteOptions()),
            "'copied/tokenizer.json': plan copies source 3 but has only 3 "
            "sources");

  ExecuteOptions ZeroChunk;
  ZeroChunk.ChunkSize = 0;
  EXPECT_EQ(run(makePlan(), Out, ZeroChunk),
            "chunk size is 0, expected a positive number of bytes");
  expectOnlySources();
}

/// A log stream that raises SIGINT after its first line, so the interrupt
/// lands while the executor is copying.
class InterruptingLog : public llvm::raw_ostream {
public:
  InterruptingLog() { SetUnbuffered(); }

  unsigned lines() const { return Lines; }

private:
  void write_impl(const char *Data, size_t Size) override {
    Written += Size;
    if (!llvm::StringRef(Data, Size).contains('\n'))
      return;
    if (++Lines == 1)
      ::raise(SIGINT);
  }
  uint64_t current_pos() const override { return Written; }

  uint64_t Written = 0;
  unsigned Lines = 0;
};

using ExecutorInterruptDeathTest = ExecutorTest;

/// Runs \p Plan and exits with 0 only if the executor failed with
/// "interrupted" and left nothing beside the sources. With \p Log, the
/// copy that raised the signal must also be the last one started. Meant for
/// a death-test child process.
[[noreturn]] void runInterrupted(const WritePlan &Plan, const std::string &Root,
                                 const std::string &Out,
                                 const ExecuteOptions &Options,
                                 const InterruptingLog *Log = nullptr) {
  std::string Text = llvm::toString(executePlan(Plan, Out, Options));
  if (Text != "interrupted") {
    std::fprintf(stderr, "error text: %s\n", Text.c_str());
    ::_exit(2);
  }
  if (exists(Out) || listFolder(Root) != std::vector<std::string>{"src"}) {
    std::fprintf(stderr, "output or temporary folder left behind\n");
    ::_exit(3);
  }
  if (Log && Log->lines() != 1) {
    std::fprintf(stderr, "%u copies started, expected 1\n", Log->lines());
    ::_exit(4);
  }
  ::_exit(0);
}

/// Installs the handlers, raises \p Signal, then runs \p Plan.
[[noreturn]] void runAfterSignal(int Signal, const WritePlan &Plan,
                                 const std::string &Root,
                                 const std::string &Out) {
  installInterruptHandlers();
  ::raise(Signal);
  if (!wasInterrupted())
    ::_exit(1);
  runInterrupted(Plan, Root, Out, ExecuteOptions());
}

/// Installs the handlers and runs \p Plan with a log that raises SIGINT
/// after the first copy starts.
[[noreturn]] void runWithSignalDuringCopy(const WritePlan &Plan,
                                          const std::string &Root,
                                          const std::string &Out) {
  installInterruptHandlers();
  InterruptingLog Log;
  ExecuteOptions Options;
  Options.Jobs = 1;
  Options.ChunkSize = 1024;
  Options.Log = &Log;
  runInterrupted(Plan, Root, Out, Options, &Log);
}

/// Like runWithSignalDuringCopy, but with --force over a non-empty output
/// folder, which must be left as it was.
[[noreturn]] void runForceWithSignal(const WritePlan &Plan,
                                     const std::string &Root,
                                     const std::string &Out) {
  installInterruptHandlers();
  InterruptingLog Log;
  ExecuteOptions Options;
  Options.Force = true;
  Options.Log = &Log;
  std::string Text = llvm::toString(executePlan(Plan, Out, Options));
  bool OldFolderKept =
      listFolder(Out) == std::vector<std::string>{"keep.txt"} &&
      readFile(Out + "/keep.txt") == "old" &&
      listFolder(Root) == std::vector<std::string>{"out", "src"};
  if (Text != "interrupted")
    std::fprintf(stderr, "error text: %s\n", Text.c_str());
  ::_exit(Text == "interrupted" && OldFolderKept ? 0 : 1);
}

TEST_F(ExecutorInterruptDeathTest, SignalBeforeStart) {
  EXPECT_FALSE(wasInterrupted());
  for (int Signal : {SIGINT, SIGTERM}) {
    SCOPED_TRACE(Signal);
    EXPECT_EXIT(runAfterSignal(Signal, makePlan(), Root, Out),
                ::testing::ExitedWithCode(0), "");
  }
  expectOnlySources();
}

TEST_F(ExecutorInterruptDeathTest, SignalDuringCopy) {
  EXPECT_EXIT(runWithSignalDuringCopy(makePlan(), Root, Out),
              ::testing::ExitedWithCode(0), "");
  expectOnlySources();
}

TEST_F(ExecutorInterruptDeathTest, NonEmptyOutDirKeptOnInterrupt) {
  ASSERT_EQ(::mkdir(Out.c_str(), 0755), 0);
  writeFile(Out + "/keep.txt", "old");
  EXPECT_EXIT(runForceWithSignal(makePlan(), Root, Out),
              ::testing::ExitedWithCode(0), "");
  EXPECT_EQ(readFile(Out + "/keep.txt"), "old");
}

TEST(NextCopyLength, FirstCallEndsAtAlignment) {
  const uint64_t Chunk = 8u << 20;
  EXPECT_EQ(nextCopyLength(54192, 500u << 20, Chunk), 65536u - 54192u);
  EXPECT_EQ(nextCopyLength(54192, 100, Chunk), 100u);
  EXPECT_EQ(nextCopyLength(65536, 500u << 20, Chunk), Chunk - 65536u);
  EXPECT_EQ(nextCopyLength(Chunk, 500u << 20, Chunk), Chunk);
  EXPECT_EQ(nextCopyLength(Chunk, 100, Chunk), 100u);
}

TEST(NextCopyLength, NeverExceedsChunk) {
  // Tests run with chunk sizes that are not multiples of the alignment.
  EXPECT_EQ(nextCopyLength(54192, 1u << 20, 1000), 808u);
  EXPECT_EQ(nextCopyLength(0, 1u << 20, 1000), 1000u);
  EXPECT_EQ(nextCopyLength(65000, 1u << 20, 1000), 536u);
}

TEST(NextCopyLength, RangeCallsStartAligned) {
  const uint64_t Chunk = 8u << 20;
  const uint64_t Start = 54192;
  const uint64_t Length = 20u << 20;
  std::vector<uint64_t> Starts;
  for (uint64_t Done = 0; Done < Length;) {
    Starts.push_back(Start + Done);
    Done += nextCopyLength(Start + Done, Length - Done, Chunk);
  }
  std::vector<uint64_t> Expected = {Start, 65536, Chunk, 2 * Chunk};
  EXPECT_EQ(Starts, Expected);
}

/// Returns the number of descriptors this process has open.
size_t openDescriptors() {
  return static_cast<size_t>(std::distance(std::filesystem::directory_iterator("/proc/self/fd"),
                                           std::filesystem::directory_iterator()));
}

TEST(WritebackQueue, ClosesQueuedFilesOnFinish) {
  char Path[] = "/tmp/rysc-writeback-XXXXXX";
  int File = ::mkstemp(Path);
  ASSERT_GE(File, 0);
  ASSERT_EQ(::write(File, "abc", 3), 3);
  size_t Before = openDescriptors();

  WritebackQueue Queue;
  Queue.push(File);
  Queue.finish();

  // The queue closed the duplicate it kept, and the caller's descriptor stays open.
  EXPECT_EQ(openDescriptors(), Before);
  EXPECT_GE(::fcntl(File, F_GETFD), 0);
  ::close(File);
  ::unlink(Path);
}

TEST(WritebackQueue, UnopenedFileUsesFallback) {
  // A descriptor that cannot be duplicated goes to sync_file_range in the
  // caller, which fails on it and changes nothing.
  size_t Before = openDescriptors();
  WritebackQueue Queue;
  Queue.push(-1);
  Queue.finish();
  EXPECT_EQ(openDescriptors(), Before);
}

} // namespace
