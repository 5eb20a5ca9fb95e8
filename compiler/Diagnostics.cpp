// Diagnostic collection and printing.
#include "compiler/Diagnostics.h"

#include "llvm/Support/MemoryBuffer.h"

#include <algorithm>

namespace rysc {

unsigned DiagnosticEngine::addBuffer(llvm::StringRef Text, llvm::StringRef Name) {
  auto Buffer = llvm::MemoryBuffer::getMemBufferCopy(Text, Name);
  return Sources.AddNewSourceBuffer(std::move(Buffer), llvm::SMLoc());
}

void DiagnosticEngine::error(llvm::SMLoc Loc, const llvm::Twine &Message, llvm::SMRange Range) {
  report(Severity::Error, Loc, Message, Range);
}

void DiagnosticEngine::warning(llvm::SMLoc Loc, const llvm::Twine &Message, llvm::SMRange Range) {
  report(WarningsAsErrors ? Severity::Error : Severity::Warning, Loc, Message, Range);
}

void DiagnosticEngine::note(llvm::SMLoc Loc, const llvm::Twine &Message, llvm::SMRange Range) {
  report(Severity::Note, Loc, Message, Range);
}

std::pair<unsigned, unsigned> DiagnosticEngine::lineAndColumn(llvm::SMLoc Loc) const {
  if (!Loc.isValid())
    return {0, 0};
  return Sources.getLineAndColumn(Loc);
}

static llvm::SourceMgr::DiagKind toDiagKind(Severity Kind) {
  switch (Kind) {
  case Severity::Error:
    return llvm::SourceMgr::DK_Error;
  case Severity::Warning:
    return llvm::SourceMgr::DK_Warning;
  case Severity::Note:
    return llvm::SourceMgr::DK_Note;
  }
  return llvm::SourceMgr::DK_Error;
}

static llvm::StringRef severityName(Severity Kind) {
  switch (Kind) {
  case Severity::Error:
    return "error";
  case Severity::Warning:
    return "warning";
  case Severity::Note:
    return "note";
  }
  return "error";
}

void DiagnosticEngine::report(Severity Kind, llvm::SMLoc Loc, const llvm::Twine &Message,
                              llvm::SMRange Range) {
  std::string Text = Message.str();
  Reported.push_back({Kind, Loc, Range, Text});
  if (Kind == Severity::Error)
    ++Errors;
  else if (Kind == Severity::Warning)
    ++Warnings;

  if (!Loc.isValid()) {
    Out << "rysc: " << severityName(Kind) << ": " << Text << "\n";
    return;
  }
  llvm::SmallVector<llvm::SMRange, 1> Ranges;
  if (Range.isValid())
    Ranges.push_back(Range);
  Sources.PrintMessage(Out, Loc, toDiagKind(Kind), Text, Ranges, {}, /*ShowColors=*/false);
}

/// Returns the largest edit distance that still counts as a typo of \p Word.
static unsigned typoLimit(llvm::StringRef Word) {
  // Allow about one edit per three characters, and two from four characters
  // on (a swapped pair of letters costs two): enough for a typo, not for a
  // different word.
  return Word.size() < 4 ? 1 : std::max<unsigned>(2, Word.size() / 3);
}

std::string closestMatch(llvm::StringRef Word, llvm::ArrayRef<std::string> Candidates) {
  unsigned Limit = typoLimit(Word);
  unsigned Best = Limit + 1;
  std::string Result;
  for (const std::string &Candidate : Candidates) {
    unsigned Distance = Word.edit_distance(Candidate, /*AllowReplacements=*/true, Limit);
    if (Distance < Best) {
      Best = Distance;
      Result = Candidate;
    }
  }
  return Result;
}

std::string didYouMean(llvm::StringRef Word, llvm::ArrayRef<std::string> Candidates) {
  std::string Match = closestMatch(Word, Candidates);
  if (Match.empty() || Match == Word)
    return "";
  return " (did you mean '" + Match + "'?)";
}

std::vector<std::string> closeMatches(llvm::StringRef Word, llvm::ArrayRef<std::string> Candidates,
                                      size_t Max) {
  unsigned Limit = typoLimit(Word);
  std::vector<std::pair<unsigned, std::string>> Scored;
  for (const std::string &Candidate : Candidates) {
    unsigned Distance = Word.edit_distance(Candidate, /*AllowReplacements=*/true, Limit);
    if (Distance <= Limit || llvm::StringRef(Candidate).contains(Word))
      Scored.push_back({Distance, Candidate});
  }
  std::sort(Scored.begin(), Scored.end());
  std::vector<std::string> Result;
  for (size_t Index = 0; Index < Scored.size() && Index < Max; ++Index)
    Result.push_back(Scored[Index].second);
  return Result;
}

} // namespace rysc
