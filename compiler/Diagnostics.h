// Collects and prints diagnostics in clang's form: file:line:col, the source
// line and a caret, through llvm::SourceMgr.
#ifndef RYSC_COMPILER_DIAGNOSTICS_H
#define RYSC_COMPILER_DIAGNOSTICS_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/SMLoc.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <string>
#include <vector>

namespace rysc {

enum class Severity { Error, Warning, Note };

/// One reported diagnostic, kept so that callers and tests can inspect it.
struct Diagnostic {
  Severity Kind;
  llvm::SMLoc Loc;        ///< Invalid when the diagnostic has no source place.
  llvm::SMRange Range;    ///< Underlined in addition to the caret.
  std::string Message;
};

/// Owns the SourceMgr of a compilation and every diagnostic reported in it.
/// Diagnostics are printed as they are reported, so a run shows all of them.
class DiagnosticEngine {
public:
  explicit DiagnosticEngine(llvm::raw_ostream &Out) : Out(Out) {}

  /// Adds a buffer and returns its id. \p Name is what diagnostics print.
  unsigned addBuffer(llvm::StringRef Text, llvm::StringRef Name);

  void error(llvm::SMLoc Loc, const llvm::Twine &Message, llvm::SMRange Range = {});
  void warning(llvm::SMLoc Loc, const llvm::Twine &Message, llvm::SMRange Range = {});
  void note(llvm::SMLoc Loc, const llvm::Twine &Message, llvm::SMRange Range = {});

  /// Reports a diagnostic with no source place, as "rysc: error: message".
  void error(const llvm::Twine &Message) { error(llvm::SMLoc(), Message); }
  void warning(const llvm::Twine &Message) { warning(llvm::SMLoc(), Message); }

  /// Turns every warning into an error (--strict) from now on.
  void setWarningsAsErrors(bool Value) { WarningsAsErrors = Value; }
  bool warningsAsErrors() const { return WarningsAsErrors; }

  unsigned errorCount() const { return Errors; }
  unsigned warningCount() const { return Warnings; }
  bool hasErrors() const { return Errors != 0; }
  llvm::ArrayRef<Diagnostic> diagnostics() const { return Reported; }

  llvm::SourceMgr &sourceMgr() { return Sources; }

  /// Returns the line and column of \p Loc (1-based), or {0, 0} if invalid.
  std::pair<unsigned, unsigned> lineAndColumn(llvm::SMLoc Loc) const;

private:
  void report(Severity Kind, llvm::SMLoc Loc, const llvm::Twine &Message, llvm::SMRange Range);
  bool printOnInvalidUtf8Line(Severity Kind, llvm::SMLoc Loc, llvm::StringRef Text);

  llvm::raw_ostream &Out;
  llvm::SourceMgr Sources;
  std::vector<Diagnostic> Reported;
  unsigned Errors = 0;
  unsigned Warnings = 0;
  bool WarningsAsErrors = false;
};

/// Returns the candidate closest to \p Word by edit distance, or an empty
/// string when none is close enough to be a plausible misspelling.
std::string closestMatch(llvm::StringRef Word, llvm::ArrayRef<std::string> Candidates);

/// Returns " (did you mean 'X'?)" for the closest candidate, or "".
std::string didYouMean(llvm::StringRef Word, llvm::ArrayRef<std::string> Candidates);

/// Returns up to \p Max candidates that are a plausible misspelling of
/// \p Word or contain it, closest first, e.g. "gemma" gives gemma2, gemma3.
std::vector<std::string> closeMatches(llvm::StringRef Word, llvm::ArrayRef<std::string> Candidates,
                                      size_t Max);

} // namespace rysc

#endif // RYSC_COMPILER_DIAGNOSTICS_H
