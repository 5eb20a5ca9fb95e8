// Golden tests: each tests/golden/*.test file holds a recipe, the rysc
// arguments, and the exact expected exit status, stdout and stderr.
//
// File format:
//   args: plan {recipe} --layers 64      (required; {recipe} is the recipe path,
//                                          {model:NAME} a generated fixture)
//   exit: 1                              (required)
//   --- recipe.rys                       (the recipe text)
//   --- stdout                           (optional; compared exactly when present)
//   --- stderr                           (compared exactly)
// Fixture paths in the output are replaced by "MODEL(NAME)". Run with
// RYSC_UPDATE_GOLDEN=1 to rewrite the expected sections from actual output.
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace {

struct GoldenCase {
  std::string Path;
  std::string Args;
  int Exit = 0;
  std::string Recipe;
  std::optional<std::string> Stdout;
  std::string Stderr;
};

std::string readFile(const std::string &Path) {
  auto Buffer = llvm::MemoryBuffer::getFile(Path);
  return Buffer ? (*Buffer)->getBuffer().str() : std::string();
}

GoldenCase parseCase(const std::string &Path) {
  GoldenCase Case;
  Case.Path = Path;
  std::string Text = readFile(Path);
  std::string *Section = nullptr;
  std::string Stdout;
  bool HasStdout = false;
  llvm::SmallVector<llvm::StringRef, 64> Lines;
  llvm::StringRef(Text).split(Lines, '\n');
  if (!Lines.empty() && Lines.back().empty())
    Lines.pop_back();
  for (llvm::StringRef Line : Lines) {
    if (Line.consume_front("--- ")) {
      if (Line == "stdout") {
        HasStdout = true;
        Section = &Stdout;
      } else {
        Section = Line == "stderr" ? &Case.Stderr : &Case.Recipe;
      }
      continue;
    }
    if (Section) {
      *Section += Line.str() + "\n";
      continue;
    }
    if (Line.consume_front("args: "))
      Case.Args = Line.str();
    else if (Line.consume_front("exit: "))
      Line.getAsInteger(10, Case.Exit);
  }
  if (HasStdout)
    Case.Stdout = Stdout;
  return Case;
}

/// Returns a fixture model, generated once per build folder: ctest runs each
/// case in its own process, so the cache lives on disk. A model is written
/// to a temporary folder and renamed into place, so concurrent cases never
/// see a partial one.
std::string fixtureModel(const std::string &Name) {
  std::string Cache = RYSC_FIXTURE_CACHE;
  std::string Out = Cache + "/" + Name;
  if (llvm::sys::fs::is_directory(Out + "/.complete"))
    return Out + "/model";
  llvm::sys::fs::create_directories(Cache);
  llvm::SmallString<128> Temp;
  if (llvm::sys::fs::createUniqueDirectory(Cache + "/tmp-" + Name, Temp))
    return "";
  std::string Generator = std::string(RYSC_SOURCE_DIR) + "/tests/fixtures/generate.py";
  std::string Command =
      "python3 '" + Generator + "' " + Name + " '" + std::string(Temp) + "/model' >/dev/null";
  if (std::system(Command.c_str()) != 0)
    return "";
  llvm::sys::fs::create_directory(std::string(Temp) + "/.complete");
  // Another process may have finished first; either copy is complete.
  if (llvm::sys::fs::rename(Temp, Out))
    llvm::sys::fs::remove_directories(Temp);
  return Out + "/model";
}

struct RunResult {
  int Exit = -1;
  std::string Stdout;
  std::string Stderr;
};

RunResult runRysc(const std::vector<std::string> &Args, const std::string &WorkDir) {
  llvm::SmallString<128> OutPath(WorkDir), ErrPath(WorkDir);
  llvm::sys::path::append(OutPath, "stdout.txt");
  llvm::sys::path::append(ErrPath, "stderr.txt");
  // Run from the case's folder so the recipe prints as a bare file name.
  std::vector<llvm::StringRef> Argv = {"/bin/sh", "-c"};
  std::string Command = "cd '" + WorkDir + "' && exec '" + std::string(RYSC_BINARY) + "'";
  for (const std::string &Arg : Args)
    Command += " '" + Arg + "'";
  Argv.push_back(Command);
  llvm::Optional<llvm::StringRef> Redirects[] = {llvm::StringRef(""), llvm::StringRef(OutPath),
                                                llvm::StringRef(ErrPath)};
  RunResult Result;
  Result.Exit = llvm::sys::ExecuteAndWait("/bin/sh", Argv, llvm::None, Redirects);
  Result.Stdout = readFile(std::string(OutPath));
  Result.Stderr = readFile(std::string(ErrPath));
  return Result;
}

std::vector<std::string> goldenFiles() {
  std::vector<std::string> Files;
  std::error_code EC;
  std::string Dir = std::string(RYSC_SOURCE_DIR) + "/tests/golden";
  for (llvm::sys::fs::directory_iterator It(Dir, EC), End; It != End && !EC; It.increment(EC))
    if (llvm::StringRef(It->path()).endswith(".test"))
      Files.push_back(It->path());
  std::sort(Files.begin(), Files.end());
  return Files;
}

/// Expands {recipe} and {model:NAME}; records fixture paths to hide them.
std::vector<std::string> expandArgs(const std::string &Args,
                                    std::vector<std::pair<std::string, std::string>> &Hidden) {
  std::vector<std::string> Result;
  llvm::SmallVector<llvm::StringRef, 8> Words;
  llvm::StringRef(Args).split(Words, ' ', -1, false);
  for (llvm::StringRef Word : Words) {
    if (Word == "{recipe}") {
      Result.push_back("recipe.rys");
    } else if (Word.consume_front("{model:") && Word.consume_back("}")) {
      std::string Path = fixtureModel(Word.str());
      Hidden.push_back({Path, "MODEL(" + Word.str() + ")"});
      Result.push_back(Path);
    } else {
      Result.push_back(Word.str());
    }
  }
  return Result;
}

std::string hidePaths(std::string Text, const std::vector<std::pair<std::string, std::string>> &Hidden) {
  for (const auto &[Path, Label] : Hidden) {
    size_t At;
    while (!Path.empty() && (At = Text.find(Path)) != std::string::npos)
      Text.replace(At, Path.size(), Label);
  }
  return Text;
}

void rewriteCase(const GoldenCase &Case, const RunResult &Run) {
  std::error_code EC;
  llvm::raw_fd_ostream OS(Case.Path, EC);
  OS << "args: " << Case.Args << "\nexit: " << Run.Exit << "\n--- recipe.rys\n" << Case.Recipe;
  if (Case.Stdout)
    OS << "--- stdout\n" << Run.Stdout;
  OS << "--- stderr\n" << Run.Stderr;
}

class GoldenTest : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenTest, MatchesExpectedOutput) {
  GoldenCase Case = parseCase(GetParam());
  llvm::SmallString<128> WorkDir;
  ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("rysc-golden", WorkDir));
  {
    std::error_code EC;
    llvm::raw_fd_ostream OS(std::string(WorkDir) + "/recipe.rys", EC);
    OS << Case.Recipe;
  }
  std::vector<std::pair<std::string, std::string>> Hidden;
  RunResult Run = runRysc(expandArgs(Case.Args, Hidden), std::string(WorkDir));
  Run.Stdout = hidePaths(Run.Stdout, Hidden);
  Run.Stderr = hidePaths(Run.Stderr, Hidden);
  llvm::sys::fs::remove_directories(WorkDir);

  if (std::getenv("RYSC_UPDATE_GOLDEN")) {
    rewriteCase(Case, Run);
    return;
  }
  EXPECT_EQ(Run.Exit, Case.Exit);
  EXPECT_EQ(Run.Stderr, Case.Stderr);
  if (Case.Stdout) {
    EXPECT_EQ(Run.Stdout, *Case.Stdout);
  }
}

std::string caseName(const ::testing::TestParamInfo<std::string> &Info) {
  std::string Name = llvm::sys::path::stem(Info.param).str();
  for (char &C : Name)
    if (!llvm::isAlnum(C))
      C = '_';
  return Name;
}

INSTANTIATE_TEST_SUITE_P(Golden, GoldenTest, ::testing::ValuesIn(goldenFiles()), caseName);

} // namespace
