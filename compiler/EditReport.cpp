// Text rendering of config edits.
#include "compiler/EditReport.h"
#include "compiler/LayerListText.h"

#include <algorithm>
#include <optional>

namespace rysc {

namespace {

std::string summarize(const Json &Value) {
  if (Value.is_array())
    return "[" + std::to_string(Value.size()) + " entries]";
  if (Value.is_object())
    return "{" + std::to_string(Value.size()) + " keys}";
  if (Value.is_string() && Value.get_ref<const std::string &>().size() > 40)
    return "\"" + Value.get<std::string>().substr(0, 37) + "...\"";
  return Value.dump();
}

/// Returns one value per layer of a value list or a pattern string, or
/// nullopt for a value that is neither (a broadcast scalar, a dict).
std::optional<std::vector<Json>> perLayerEntries(const Json &Value) {
  if (Value.is_array())
    return std::vector<Json>(Value.begin(), Value.end());
  if (!Value.is_string())
    return std::nullopt;
  std::vector<Json> Entries;
  for (char Letter : Value.get_ref<const std::string &>())
    Entries.push_back(std::string(1, Letter));
  return Entries;
}

/// Prints "      old: layers 0..3: 128; ..." with continuation lines
/// aligned under the first.
void printLayerList(llvm::raw_ostream &OS, llvm::StringRef Label, const Json &Value,
                    const FieldSpec &Field) {
  std::string Prefix = "      " + Label.str() + ": ";
  size_t Width = ReportWidth - Prefix.size();
  std::vector<std::string> Lines;
  if (Field.Kind == FieldKind::Indices) {
    Lines = describeLayerIndices(Value, Width);
    const std::string Note = " (layer numbers count from 1)";
    if (Field.OneBased && Lines.back().size() + Note.size() <= Width)
      Lines.back() += Note;
    else if (Field.OneBased)
      Lines.push_back(Note.substr(1));
  } else if (auto Entries = perLayerEntries(Value)) {
    Lines = describeLayerValues(*Entries, Width);
  }
  printIndented(OS, Prefix, Lines);
}

/// Prints the meanings of a per-layer edit's values, when the profile gives them.
/// An index list shows layer numbers, so its meanings are those of a listed
/// and an unlisted layer.
void printMeanings(llvm::raw_ostream &OS, const Profile &P, const ConfigEdit &Edit) {
  const FieldSpec &Field = *Edit.Field;
  const std::string Prefix = "      meaning: ";
  size_t Width = ReportWidth - Prefix.size();
  std::vector<std::string> Lines;
  if (Field.Kind == FieldKind::Indices) {
    std::vector<std::string> Items;
    for (bool Listed : {true, false})
      if (const std::string *Meaning = P.meaningOf(Field.Path, Json(Listed)))
        Items.push_back(std::string(Listed ? "listed" : "not listed") + " = " + *Meaning);
    Lines = wrapItems(Items, ", ", Width);
  } else {
    std::vector<Json> Values = perLayerEntries(Edit.Old).value_or(std::vector<Json>());
    std::vector<Json> New = perLayerEntries(Edit.New).value_or(std::vector<Json>());
    Values.insert(Values.end(), New.begin(), New.end());
    Lines = describeMeanings(valueMeanings(P, Field.Path, Values), Width);
  }
  printIndented(OS, Prefix, Lines);
}

} // namespace

void printEdits(llvm::raw_ostream &OS, llvm::StringRef ConfigName, const Compilation &C) {
  OS << "config edits (" << ConfigName << "):\n";
  if (C.Edits.empty())
    OS << "  (none; the config is unchanged)\n";
  for (const ConfigEdit &Edit : C.Edits) {
    OS << "  " << Edit.Path << ": " << (Edit.Added ? "(absent)" : summarize(Edit.Old)) << " -> "
       << summarize(Edit.New) << "  [" << Edit.Reason << "]\n";
    // Per-layer lists are shown whole, because they are what a reader
    // checks against the map.
    if (Edit.Field) {
      if (!Edit.Added)
        printLayerList(OS, "old", Edit.Old, *Edit.Field);
      printLayerList(OS, "new", Edit.New, *Edit.Field);
      if (C.UsedProfile)
        printMeanings(OS, *C.UsedProfile, Edit);
    } else if (Edit.New.is_array() && !Edit.New.empty() && Edit.New.dump().size() < 400) {
      OS << "      new: " << Edit.New.dump() << "\n";
    }
  }
  if (!C.KeptFields.empty()) {
    OS << "kept unchanged on purpose:\n";
    for (const std::string &Field : C.KeptFields)
      OS << "  " << Field << "\n";
  }
}

} // namespace rysc
