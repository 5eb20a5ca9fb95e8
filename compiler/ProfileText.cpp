// The text of profile declarations as written.
#include "compiler/ProfileText.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallVector.h"

#include <set>

namespace rysc {

namespace {

bool isCommentLine(llvm::StringRef Line) {
  Line = Line.trim();
  return Line.startswith("#") || Line.startswith("//");
}

/// Returns whether \p Line may come before a file's first profile without
/// hiding that the file's leading comment describes it.
bool isPreamble(llvm::StringRef Line) {
  Line = Line.trim();
  if (Line.empty() || isCommentLine(Line))
    return true;
  if (!Line.consume_front("rys") || !Line.consume_back(";"))
    return false;
  Line = Line.trim();
  return !Line.empty() && llvm::all_of(Line, [](char C) { return C >= '0' && C <= '9'; });
}

/// Returns the comment lines at the end of \p Lines, which end just above a
/// declaration.
std::string commentAbove(llvm::ArrayRef<llvm::StringRef> Lines) {
  size_t First = Lines.size();
  while (First > 0 && isCommentLine(Lines[First - 1]))
    --First;
  std::string Text;
  for (size_t Index = First; Index < Lines.size(); ++Index)
    Text += Lines[Index].str() + "\n";
  return Text;
}

std::string leadingComment(llvm::ArrayRef<llvm::StringRef> Lines) {
  std::string Text;
  for (llvm::StringRef Line : Lines) {
    if (!isCommentLine(Line))
      break;
    Text += Line.str() + "\n";
  }
  return Text;
}

} // namespace

std::string declarationWithComments(llvm::StringRef Buffer, const char *Start, const char *End) {
  llvm::StringRef Before = Buffer.take_front(Start - Buffer.data());
  // The declaration's own line up to `profile` holds only indentation, so it
  // is left out.
  Before = Before.take_front(Before.rfind('\n') + 1);
  llvm::SmallVector<llvm::StringRef, 32> Lines;
  Before.split(Lines, '\n');
  if (!Lines.empty() && Lines.back().empty())
    Lines.pop_back();

  std::string Comment = commentAbove(Lines);
  if (Comment.empty() && llvm::all_of(Lines, isPreamble))
    Comment = leadingComment(Lines);
  return Comment + llvm::StringRef(Start, End - Start).str() + "\n";
}

std::string profileDefinitionText(const ProfileRegistry &Registry, const Profile &P) {
  std::string Text = "# profile " + P.Name + ", declared at " + P.SourceName + ":" +
                     std::to_string(P.Line) + "\n" + P.Definition;
  // A recipe may declare a profile that extends itself, which is reported
  // as an unknown base, so the walk stops at a profile already shown.
  std::set<std::string> Printed = {P.Name};
  std::string Derived = P.Name;
  for (const Profile *Base = Registry.find(P.Base); Base && Printed.insert(Base->Name).second;
       Base = Registry.find(Base->Base)) {
    Text += "\n# profile " + Base->Name + ", which " + Derived + " extends, declared at " +
            Base->SourceName + ":" + std::to_string(Base->Line) + "\n" + Base->Definition;
    Derived = Base->Name;
  }
  return Text;
}

} // namespace rysc
