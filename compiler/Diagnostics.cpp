// Diagnostic collection and printing.
#include "compiler/Diagnostics.h"

#include "llvm/Support/ConvertUTF.h"
#include "llvm/Support/Format.h"
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
  if (printOnInvalidUtf8Line(Kind, Loc, Text))
    return;
  llvm::SmallVector<llvm::SMRange, 1> Ranges;
  if (Range.isValid())
    Ranges.push_back(Range);
  Sources.PrintMessage(Out, Loc, toDiagKind(Kind), Text, Ranges, {}, /*ShowColors=*/false);
}

/// Prints a diagnostic whose source line is not valid UTF-8, with each
/// invalid byte shown as \xNN and the caret under it. SourceMgr prints such a
/// line raw and without a caret. Returns false, and prints nothing, when the
/// line is valid UTF-8.
bool DiagnosticEngine::printOnInvalidUtf8Line(Severity Kind, llvm::SMLoc Loc,
                                              llvm::StringRef Text) {
  unsigned Buffer = Sources.FindBufferContainingLoc(Loc);
  const llvm::MemoryBuffer *Source = Sources.getMemoryBuffer(Buffer);
  llvm::StringRef Whole = Source->getBuffer();
  size_t Offset = Loc.getPointer() - Whole.data();
  size_t Begin = Offset == 0 ? llvm::StringRef::npos : Whole.rfind('\n', Offset - 1);
  Begin = Begin == llvm::StringRef::npos ? 0 : Begin + 1;
  llvm::StringRef Line = Whole.slice(Begin, std::min(Whole.find('\n', Offset), Whole.size()));
  const auto *First = reinterpret_cast<const llvm::UTF8 *>(Line.begin());
  const auto *Last = reinterpret_cast<const llvm::UTF8 *>(Line.end());
  if (llvm::isLegalUTF8String(&First, Last))
    return false;

  // The caret line repeats the tabs before the caret, so it lines up in any
  // tab width, and counts one column per character otherwise.
  std::string Escaped;
  std::string Indent;
  for (size_t I = 0; I < Line.size();) {
    const auto *At = reinterpret_cast<const llvm::UTF8 *>(Line.data() + I);
    unsigned Length = llvm::getNumBytesForUTF8(*At);
    bool Valid = I + Length <= Line.size() && llvm::isLegalUTF8Sequence(At, At + Length);
    size_t Width = Valid ? Length : 1;
    if (Begin + I + Width <= Offset) {
      if (Line[I] == '\t')
        Indent += '\t';
      else
        Indent += Valid ? " " : "    ";
    }
    if (Valid)
      Escaped += Line.substr(I, Length);
    else
      llvm::raw_string_ostream(Escaped)
          << "\\x" << llvm::format_hex_no_prefix(static_cast<uint8_t>(Line[I]), 2, true);
    I += Width;
  }

  auto [LineNumber, Column] = Sources.getLineAndColumn(Loc, Buffer);
  Out << Source->getBufferIdentifier() << ":" << LineNumber << ":" << Column << ": "
      << severityName(Kind) << ": " << Text << "\n"
      << Escaped << "\n"
      << Indent << "^\n";
  return true;
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
