// Readable text for per-layer lists.
#include "compiler/LayerListText.h"

#include "llvm/ADT/SmallVector.h"

#include <algorithm>
#include <tuple>

namespace rysc {

namespace {

/// Values whose JSON text is longer are named #1, #2, ... in segments, so a
/// list of config objects (Nemotron-NAS block_configs) stays readable.
constexpr size_t MaxInlineValueText = 40;

/// Assigns the #N names of long values in order of first appearance.
class ValueNames {
public:
  std::string name(const Json &Value) {
    std::string Text = Value.dump();
    if (Text.size() <= MaxInlineValueText)
      return Text;
    auto Found = std::find(Long.begin(), Long.end(), Value);
    if (Found == Long.end())
      Found = Long.insert(Long.end(), Value);
    return "#" + std::to_string(Found - Long.begin() + 1);
  }

  std::vector<std::string> legend() const {
    std::vector<std::string> Lines;
    for (size_t Index = 0; Index < Long.size(); ++Index)
      Lines.push_back("#" + std::to_string(Index + 1) + " = " + Long[Index].dump());
    return Lines;
  }

private:
  std::vector<Json> Long;
};

std::string layerSpan(uint32_t First, uint32_t Last) {
  if (First == Last)
    return "layer " + std::to_string(First);
  return "layers " + std::to_string(First) + ".." + std::to_string(Last);
}

std::string layerCount(size_t Count) {
  return std::to_string(Count) + (Count == 1 ? " layer" : " layers");
}

/// Counts how often the \p Period values from \p Pos repeat back to back.
size_t countRepeats(llvm::ArrayRef<Json> Values, size_t Pos, size_t Period) {
  size_t Repeats = 1;
  while (Pos + (Repeats + 1) * Period <= Values.size() &&
         std::equal(Values.begin() + Pos, Values.begin() + Pos + Period,
                    Values.begin() + Pos + Repeats * Period))
    ++Repeats;
  return Repeats;
}

/// Returns whether the \p Period values from \p Pos are a cycle in their
/// own right: not one value, and not a shorter cycle repeated.
bool isPrimitiveCycle(llvm::ArrayRef<Json> Values, size_t Pos, size_t Period) {
  for (size_t Shorter = 1; Shorter < Period; ++Shorter)
    if (Period % Shorter == 0 && countRepeats(Values.slice(Pos, Period), 0, Shorter) * Shorter == Period)
      return false;
  return true;
}

/// Cost of a segmentation, compared in order: fewer segments, then
/// longer ones (the larger sum of squared lengths), then fewer cycles out of
/// the phase that the list starts with. The last rule keeps a pattern that
/// resumes after an inserted copy in its original order.
struct SegmentationCost {
  size_t Segments = 0;
  int64_t NegatedSquares = 0;
  size_t OffPhase = 0;

  SegmentationCost plus(size_t Length, bool OffPhaseCycle) const {
    return {Segments + 1, NegatedSquares - static_cast<int64_t>(Length * Length),
            OffPhase + OffPhaseCycle};
  }
  bool operator<(const SegmentationCost &Other) const {
    return std::tie(Segments, NegatedSquares, OffPhase) <
           std::tie(Other.Segments, Other.NegatedSquares, Other.OffPhase);
  }
};

/// The first segment of the cheapest segmentation of a list's suffix.
struct SegmentChoice {
  size_t Length = 0;
  size_t Period = 1;
};

/// Returns the longest cycle that starts the list, which sets the phase
/// that later cycles of the same length should keep; empty if none.
llvm::ArrayRef<Json> leadingCycle(llvm::ArrayRef<Json> Values) {
  size_t BestPeriod = 0, BestLength = countRepeats(Values, 0, 1);
  for (size_t Period = 2; Period <= MaxCycleLength && Period <= Values.size(); ++Period) {
    size_t Length = countRepeats(Values, 0, Period) * Period;
    if (Length >= 2 * Period && Length > BestLength && isPrimitiveCycle(Values, 0, Period)) {
      BestPeriod = Period;
      BestLength = Length;
    }
  }
  return Values.take_front(BestPeriod);
}

/// Finds the cheapest segmentation by dynamic programming over suffixes.
/// Every run length and every whole number of cycles (at least two) is a
/// candidate, so a run may stop early where a cycle starts. Returns, for
/// each layer, the segment that starts there in the suffix's best
/// segmentation; segmentLayers follows them from layer 0.
std::vector<SegmentChoice> chooseSegments(llvm::ArrayRef<Json> Values) {
  size_t Count = Values.size();
  llvm::ArrayRef<Json> Phase = leadingCycle(Values);
  std::vector<SegmentationCost> Best(Count + 1);
  std::vector<SegmentChoice> Choices(Count);
  for (size_t Pos = Count; Pos-- > 0;) {
    auto Consider = [&](size_t Length, size_t Period) {
      bool OffPhase = Period == Phase.size() && Period > 1 &&
                      !std::equal(Phase.begin(), Phase.end(), Values.begin() + Pos);
      SegmentationCost Cost = Best[Pos + Length].plus(Length, OffPhase);
      if (Choices[Pos].Length == 0 || Cost < Best[Pos]) {
        Best[Pos] = Cost;
        Choices[Pos] = {Length, Period};
      }
    };
    size_t Run = countRepeats(Values, Pos, 1);
    for (size_t Length = 1; Length <= Run; ++Length)
      Consider(Length, 1);
    for (size_t Period = 2; Period <= MaxCycleLength && Pos + Period <= Count; ++Period) {
      if (!isPrimitiveCycle(Values, Pos, Period))
        continue;
      size_t Repeats = countRepeats(Values, Pos, Period);
      for (size_t Times = 2; Times <= Repeats; ++Times)
        Consider(Times * Period, Period);
    }
  }
  return Choices;
}

/// Renders one cycle with its equal neighbors grouped:
/// `3 layers: "linear_attention", 1 layer: "full_attention"`, or as plain
/// values, `"sliding_attention", "full_attention"`, when no two neighbors are
/// equal.
std::string cycleText(const std::vector<Json> &Cycle, ValueNames &Names) {
  std::vector<std::pair<size_t, std::string>> Groups;
  for (size_t Start = 0; Start < Cycle.size();) {
    size_t End = Start + 1;
    while (End < Cycle.size() && Cycle[End] == Cycle[Start])
      ++End;
    Groups.push_back({End - Start, Names.name(Cycle[Start])});
    Start = End;
  }
  // Counts are left out only when every value stands for one layer, so a
  // count never reads as applying to its neighbors too.
  bool AllSingle = Groups.size() == Cycle.size();
  std::string Text;
  for (const auto &[Count, Name] : Groups)
    Text += (Text.empty() ? "" : ", ") + (AllSingle ? Name : layerCount(Count) + ": " + Name);
  return Text;
}

std::string segmentText(const LayerSegment &Segment, ValueNames &Names) {
  std::string Text = layerSpan(Segment.First, Segment.Last) + ": ";
  if (Segment.Cycle.size() == 1)
    return Text + Names.name(Segment.Cycle.front());
  return Text + std::to_string(Segment.repeats()) + " cycles of (" +
         cycleText(Segment.Cycle, Names) + ")";
}

/// Breaks \p Text after the commas of ", " into lines of at most \p Width
/// characters, with room for one more character, where it can. Every line
/// but the last ends with the comma.
std::vector<std::string> breakAtCommas(llvm::StringRef Text, size_t Width) {
  llvm::SmallVector<llvm::StringRef, 16> Parts;
  Text.split(Parts, ", ");
  std::vector<std::string> Lines;
  std::string Line = Parts.front().str();
  for (llvm::StringRef Part : llvm::makeArrayRef(Parts).drop_front()) {
    // Room is kept for the comma, or the mark of wrapItems, that may follow.
    if (Line.size() + 2 + Part.size() + 1 <= Width) {
      Line += ", " + Part.str();
      continue;
    }
    Lines.push_back(Line + ",");
    Line = Part.str();
  }
  Lines.push_back(Line);
  return Lines;
}

} // namespace

std::vector<LayerSegment> segmentLayers(llvm::ArrayRef<Json> Values) {
  std::vector<SegmentChoice> Choices = chooseSegments(Values);
  std::vector<LayerSegment> Segments;
  for (size_t Pos = 0; Pos < Values.size(); Pos += Choices[Pos].Length) {
    const SegmentChoice &Choice = Choices[Pos];
    Segments.push_back({static_cast<uint32_t>(Pos), static_cast<uint32_t>(Pos + Choice.Length - 1),
                        std::vector<Json>(Values.begin() + Pos, Values.begin() + Pos + Choice.Period)});
  }
  return Segments;
}

std::vector<std::string> wrapItems(const std::vector<std::string> &Items,
                                   llvm::StringRef Separator, size_t Width) {
  std::vector<std::string> Lines;
  std::string Mark = Separator.rtrim().str();
  std::string Line;
  // The tail of a broken item ends its line, so the next item starts clear of it.
  bool LineClosed = false;
  for (const std::string &Item : Items) {
    // Room is kept for the mark that ends the line if another item follows.
    bool Fits = Line.size() + Separator.size() + Item.size() + Mark.size() <= Width;
    if (!Line.empty() && !LineClosed && Fits) {
      Line += Separator.str() + Item;
      continue;
    }
    if (!Line.empty())
      Lines.push_back(Line + Mark);
    LineClosed = Item.size() + Mark.size() > Width;
    if (!LineClosed) {
      Line = Item;
      continue;
    }
    std::vector<std::string> Pieces = breakAtCommas(Item, Width);
    Lines.insert(Lines.end(), Pieces.begin(), Pieces.end() - 1);
    Line = Pieces.back();
  }
  if (!Line.empty())
    Lines.push_back(Line);
  return Lines;
}

std::vector<std::string> describeLayerValues(llvm::ArrayRef<Json> Values, size_t Width) {
  if (Values.empty())
    return {"no layers"};
  ValueNames Names;
  std::vector<std::string> Items;
  for (const LayerSegment &Segment : segmentLayers(Values))
    Items.push_back(segmentText(Segment, Names));
  std::vector<std::string> Lines = wrapItems(Items, "; ", Width);
  for (std::string &Line : Names.legend())
    Lines.push_back(std::move(Line));
  return Lines;
}

std::vector<std::string> describeLayerIndices(const Json &Indices, size_t Width) {
  if (!Indices.is_array() || Indices.empty())
    return {"no layers"};
  std::vector<std::string> Items;
  for (size_t Start = 0; Start < Indices.size();) {
    size_t End = Start + 1;
    if (Indices[Start].is_number_integer())
      while (End < Indices.size() && Indices[End].is_number_integer() &&
             Indices[End].get<int64_t>() == Indices[End - 1].get<int64_t>() + 1)
        ++End;
    std::string Text = Indices[Start].dump();
    if (End - Start > 1)
      Text += ".." + Indices[End - 1].dump();
    Items.push_back(std::move(Text));
    Start = End;
  }
  Items.front() = (Indices.size() == 1 ? "layer " : "layers ") + Items.front();
  return wrapItems(Items, ", ", Width);
}

Json segmentsToJson(llvm::ArrayRef<LayerSegment> Segments) {
  Json Result = Json::array();
  for (const LayerSegment &Segment : Segments)
    Result.push_back({{"first", Segment.First},
                      {"last", Segment.Last},
                      {"cycle", Segment.Cycle},
                      {"repeats", Segment.repeats()}});
  return Result;
}

std::vector<std::pair<Json, std::string>> valueMeanings(const Profile &P, llvm::StringRef Field,
                                                        llvm::ArrayRef<Json> Values) {
  std::vector<std::pair<Json, std::string>> Meanings;
  for (const Json &Value : Values) {
    const std::string *Meaning = P.meaningOf(Field, Value);
    bool Seen = std::any_of(Meanings.begin(), Meanings.end(),
                            [&](const auto &Entry) { return Entry.first == Value; });
    if (Meaning && !Seen)
      Meanings.push_back({Value, *Meaning});
  }
  return Meanings;
}

void printIndented(llvm::raw_ostream &OS, llvm::StringRef Prefix,
                   const std::vector<std::string> &Lines) {
  for (size_t Index = 0; Index < Lines.size(); ++Index)
    OS << (Index ? std::string(Prefix.size(), ' ') : Prefix.str()) << Lines[Index] << "\n";
}

std::vector<std::string> describeMeanings(llvm::ArrayRef<std::pair<Json, std::string>> Meanings,
                                          size_t Width) {
  std::vector<std::string> Items;
  for (const auto &[Value, Meaning] : Meanings)
    Items.push_back(Value.dump() + " = " + Meaning);
  return wrapItems(Items, ", ", Width);
}

} // namespace rysc
