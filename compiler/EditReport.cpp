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
    if (Field.OneBased)
      Lines.back() += " (layer numbers count from 1)";
  } else if (auto Entries = perLayerEntries(Value)) {
    Lines = describeLayerValues(*Entries, Width);
  }
  for (size_t Index = 0; Index < Lines.size(); ++Index)
    OS << (Index ? std::string(Prefix.size(), ' ') : Prefix) << Lines[Index] << "\n";
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
