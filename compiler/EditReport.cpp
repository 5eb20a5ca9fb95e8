// Text rendering of config edits.
#include "compiler/EditReport.h"
#include "compiler/LayerListText.h"

#include <algorithm>
#include <cctype>
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

/// The column at which the lines of a per-layer list wrap.
constexpr size_t ReportWidth = 100;

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

/// Renders a per-layer list as one letter per layer in groups of ten, with
/// a legend, when it has few distinct values; nullopt otherwise.
std::optional<std::string> compactLayers(const Json &List) {
  if (!List.is_array() || List.empty())
    return std::nullopt;
  std::vector<std::pair<Json, char>> Legend;
  std::string Letters;
  for (const Json &Value : List) {
    auto Found = std::find_if(Legend.begin(), Legend.end(),
                              [&](const auto &Entry) { return Entry.first == Value; });
    if (Found == Legend.end()) {
      if (Legend.size() == 26)
        return std::nullopt;
      std::string Text = Value.is_string() ? Value.get<std::string>() : Value.dump();
      char Letter = Text.empty() ? '?' : static_cast<char>(std::toupper(Text[0]));
      while (std::any_of(Legend.begin(), Legend.end(), [&](const auto &E) { return E.second == Letter; }))
        Letter = Letter == 'Z' ? 'A' : Letter + 1;
      Legend.push_back({Value, Letter});
      Found = Legend.end() - 1;
    }
    Letters += Found->second;
  }
  std::string Text;
  for (size_t Index = 0; Index < Letters.size(); Index += 10)
    Text += (Index ? " " : "") + Letters.substr(Index, 10);
  Text += "   (";
  for (size_t Index = 0; Index < Legend.size(); ++Index)
    Text += (Index ? ", " : "") + std::string(1, Legend[Index].second) + " = " + Legend[Index].first.dump();
  return Text + ")";
}

std::string periodicForm(llvm::StringRef Letters) {
  std::string Result;
  size_t Pos = 0;
  while (Pos < Letters.size()) {
    // Take the period that covers the most layers from here, at least twice.
    size_t BestPeriod = 1, BestRepeats = 1;
    for (size_t Period = 1; Period <= 8 && Pos + Period <= Letters.size(); ++Period) {
      size_t Repeats = 1;
      while (Pos + (Repeats + 1) * Period <= Letters.size() &&
             Letters.substr(Pos + Repeats * Period, Period) == Letters.substr(Pos, Period))
        ++Repeats;
      if (Repeats >= 2 && Period * Repeats > BestPeriod * BestRepeats) {
        BestPeriod = Period;
        BestRepeats = Repeats;
      }
    }
    if (!Result.empty())
      Result += " ";
    if (BestRepeats == 1) {
      Result += Letters[Pos++];
      continue;
    }
    std::string Group;
    for (char C : Letters.substr(Pos, BestPeriod))
      Group += (Group.empty() ? "" : " ") + std::string(1, C);
    Result += (BestPeriod == 1 ? Group : "(" + Group + ")") + " x" + std::to_string(BestRepeats);
    Pos += BestPeriod * BestRepeats;
  }
  return Result;
}

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
