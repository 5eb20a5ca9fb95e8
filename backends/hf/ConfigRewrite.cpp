// Text-level edits of config.json.
#include "backends/hf/ConfigRewrite.h"
#include "compiler/Error.h"

#include "llvm/ADT/SmallVector.h"

#include <algorithm>

namespace rysc::hf {

namespace {

/// The place of one value in the text, found by a structural scan that needs
/// no number parsing.
struct Span {
  size_t Begin = 0;
  size_t End = 0;   ///< One past the value's last byte.
  unsigned Depth = 0;
};

class Scanner {
public:
  explicit Scanner(llvm::StringRef Text) : Text(Text) {}

  void skipSpace() {
    while (Pos < Text.size() && (Text[Pos] == ' ' || Text[Pos] == '\n' || Text[Pos] == '\r' ||
                                 Text[Pos] == '\t'))
      ++Pos;
  }

  /// Skips one value of any kind; false on malformed text.
  bool skipValue() {
    skipSpace();
    if (Pos >= Text.size())
      return false;
    char C = Text[Pos];
    if (C == '"')
      return readString(nullptr);
    if (C == '{' || C == '[')
      return skipContainer(C == '{' ? '}' : ']');
    while (Pos < Text.size() && !llvm::StringRef(",}] \n\r\t").contains(Text[Pos]))
      ++Pos;
    return true;
  }

  bool readString(std::string *Out) {
    if (Pos >= Text.size() || Text[Pos] != '"')
      return false;
    size_t Start = ++Pos;
    while (Pos < Text.size() && Text[Pos] != '"')
      Pos += Text[Pos] == '\\' ? 2 : 1;
    if (Pos >= Text.size())
      return false;
    if (Out) {
      // Keys are compared after decoding, so parse them with nlohmann.
      Json Key = Json::parse(Text.slice(Start - 1, Pos + 1).str(), nullptr, false);
      if (!Key.is_string())
        return false;
      *Out = Key.get<std::string>();
    }
    ++Pos;
    return true;
  }

  bool skipContainer(char Close) {
    ++Pos;
    unsigned Nesting = 1;
    while (Pos < Text.size() && Nesting > 0) {
      char C = Text[Pos];
      if (C == '"') {
        if (!readString(nullptr))
          return false;
        continue;
      }
      if (C == '{' || C == '[')
        ++Nesting;
      else if (C == '}' || C == ']')
        --Nesting;
      ++Pos;
    }
    (void)Close;
    return Nesting == 0;
  }

  /// Finds member \p Key of the object starting at Pos. On success Pos is
  /// at the member's value; on a missing key, Pos is at the closing brace.
  bool findMember(const std::string &Key, bool &Found) {
    skipSpace();
    if (Pos >= Text.size() || Text[Pos] != '{')
      return false;
    ++Pos;
    while (true) {
      skipSpace();
      if (Pos < Text.size() && Text[Pos] == '}') {
        Found = false;
        return true;
      }
      std::string Name;
      if (!readString(&Name))
        return false;
      skipSpace();
      if (Pos >= Text.size() || Text[Pos] != ':')
        return false;
      ++Pos;
      skipSpace();
      if (Name == Key) {
        Found = true;
        return true;
      }
      if (!skipValue())
        return false;
      skipSpace();
      if (Pos < Text.size() && Text[Pos] == ',')
        ++Pos;
    }
  }

  llvm::StringRef Text;
  size_t Pos = 0;
};

/// Serializes \p Value as Python's json.dumps(indent=2) would at \p Depth.
std::string serialize(const Json &Value, unsigned Depth) {
  std::string Text = Value.dump(2);
  std::string Indent(Depth * 2, ' ');
  std::string Result;
  for (char C : Text) {
    Result += C;
    if (C == '\n')
      Result += Indent;
  }
  return Result;
}

struct Replacement {
  size_t Begin;
  size_t End;
  std::string Text;
};

llvm::Expected<Replacement> planEdit(llvm::StringRef Original, const ConfigEdit &Edit) {
  Scanner S(Original);
  llvm::SmallVector<llvm::StringRef, 4> Parts;
  llvm::StringRef(Edit.Path).split(Parts, '.');
  for (size_t Index = 0; Index < Parts.size(); ++Index) {
    bool Found = false;
    size_t ObjectStart = S.Pos;
    (void)ObjectStart;
    if (!S.findMember(Parts[Index].str(), Found))
      return plainError("config.json is not valid JSON near byte " + llvm::Twine(S.Pos));
    bool Last = Index + 1 == Parts.size();
    if (Found && !Last)
      continue;
    unsigned Depth = static_cast<unsigned>(Index) + 1;
    if (Found) {
      size_t Begin = S.Pos;
      if (!S.skipValue())
        return plainError("config.json is not valid JSON near byte " + llvm::Twine(S.Pos));
      return Replacement{Begin, S.Pos, serialize(Edit.New, Depth)};
    }
    if (!Last || !Edit.Added)
      return plainError("config.json has no key '" + Edit.Path + "'");
    // Add the key before the closing brace, after the last member.
    size_t Brace = S.Pos;
    size_t LastByte = Brace;
    while (LastByte > 0 && llvm::StringRef(" \n\r\t").contains(Original[LastByte - 1]))
      --LastByte;
    bool Empty = Original[LastByte - 1] == '{';
    std::string Indent(Depth * 2, ' ');
    std::string Insert = (Empty ? "\n" : ",\n") + Indent + Json(Parts.back().str()).dump() +
                         ": " + serialize(Edit.New, Depth);
    return Replacement{LastByte, LastByte, Insert};
  }
  return plainError("empty config path");
}

} // namespace

llvm::Expected<std::string> rewriteConfigText(llvm::StringRef Original,
                                              llvm::ArrayRef<ConfigEdit> Edits) {
  std::string Text = Original.str();
  // Each edit is planned on the current text and applied at once, so later
  // edits see earlier ones.
  for (const ConfigEdit &Edit : Edits) {
    auto R = planEdit(Text, Edit);
    if (!R)
      return R.takeError();
    Text.replace(R->Begin, R->End - R->Begin, R->Text);
  }
  return Text;
}

} // namespace rysc::hf
