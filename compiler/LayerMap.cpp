// Lowering of duplicate and drop statements into the output→source map.
#include "compiler/LayerMap.h"

#include <cassert>

namespace rysc {

LayerMap LayerMap::build(uint32_t SourceCount, llvm::ArrayRef<LayerEdit> Edits) {
  // Gap G sits before source layer G; gap SourceCount is after the last one.
  std::vector<std::vector<const LayerEdit *>> Gaps(SourceCount + 1);
  std::vector<bool> Dropped(SourceCount, false);
  for (const LayerEdit &Edit : Edits) {
    assert(Edit.Begin < Edit.End && Edit.End <= SourceCount && "edit not checked");
    if (Edit.Action == LayerEdit::Kind::Drop) {
      for (uint32_t Layer = Edit.Begin; Layer < Edit.End; ++Layer)
        Dropped[Layer] = true;
      continue;
    }
    Gaps[Edit.Before ? Edit.Begin : Edit.End].push_back(&Edit);
  }

  LayerMap Map;
  Map.SourceCount = SourceCount;
  for (uint32_t Gap = 0; Gap <= SourceCount; ++Gap) {
    for (const LayerEdit *Insert : Gaps[Gap]) {
      const LayerEdit &Edit = *Insert;
      Seam NewSeam;
      NewSeam.Statement = Edit.Statement;
      NewSeam.FirstCopy = Map.outputCount();
      for (uint32_t Copy = 0; Copy < Edit.Times; ++Copy)
        for (uint32_t Layer = Edit.Begin; Layer < Edit.End; ++Layer)
          Map.Layers.push_back({Layer, Edit.Statement, Copy});
      NewSeam.LastCopy = Map.outputCount() - 1;
      Map.Seams.push_back(NewSeam);
    }
    if (Gap < SourceCount && !Dropped[Gap])
      Map.Layers.push_back({Gap, std::nullopt, 0});
  }

  // Neighbours are known only once the whole output exists.
  for (Seam &S : Map.Seams) {
    if (S.FirstCopy > 0)
      S.Before = S.FirstCopy - 1;
    if (S.LastCopy + 1 < Map.outputCount())
      S.After = S.LastCopy + 1;
  }
  return Map;
}

std::vector<uint32_t> LayerMap::sources() const {
  std::vector<uint32_t> Result;
  Result.reserve(Layers.size());
  for (const OutputLayer &Layer : Layers)
    Result.push_back(Layer.Source);
  return Result;
}

bool LayerMap::isIdentity() const {
  if (Layers.size() != SourceCount)
    return false;
  for (uint32_t Out = 0; Out < Layers.size(); ++Out)
    if (Layers[Out].Source != Out || Layers[Out].isCopy())
      return false;
  return true;
}

std::vector<std::vector<uint32_t>> layerOutputs(const LayerMap &Map, uint32_t ExtraLayers) {
  std::vector<std::vector<uint32_t>> Outputs(Map.sourceCount() + ExtraLayers);
  for (uint32_t Out = 0; Out < Map.outputCount(); ++Out) {
    std::vector<uint32_t> &List = Outputs[Map[Out].Source];
    bool FirstOriginal = !Map[Out].isCopy() && llvm::all_of(List, [&](uint32_t Earlier) {
                           return Map[Earlier].isCopy();
                         });
    if (FirstOriginal)
      List.insert(List.begin(), Out);
    else
      List.push_back(Out);
  }
  for (uint32_t Index = 0; Index < ExtraLayers; ++Index)
    Outputs[Map.sourceCount() + Index].push_back(Map.outputCount() + Index);
  return Outputs;
}

} // namespace rysc
