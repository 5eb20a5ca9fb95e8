// The transform rule of each per-layer field kind under the layer map. Pure
// functions of the old value and the map, so they are unit-tested alone.
#ifndef RYSC_COMPILER_FIELDRULES_H
#define RYSC_COMPILER_FIELDRULES_H

#include "compiler/Expr.h"
#include "compiler/Profile.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace rysc {

/// Applies the rule of \p Spec to \p Old under map \p Map (m[o] per output
/// layer) of a model with \p SourceCount layers. Errors describe what in the
/// value breaks the rule (wrong length, index out of range, bad key).
llvm::Expected<Json> remapField(const FieldSpec &Spec, const Json &Old,
                                llvm::ArrayRef<uint32_t> Map, uint32_t SourceCount);

/// R-list: new[o] = old[m[o]] for a list with exactly one entry per layer,
/// or with extra entries handled as \p Spec's options require.
llvm::Expected<Json> remapValues(const FieldSpec &Spec, const Json &Old,
                                 llvm::ArrayRef<uint32_t> Map, uint32_t SourceCount);

/// R-list on the characters of a string pattern.
llvm::Expected<Json> remapPattern(const Json &Old, llvm::ArrayRef<uint32_t> Map,
                                  uint32_t SourceCount);

/// R-idx: new = sorted{o : m[o] in old}, in the list's own base (0 or 1).
llvm::Expected<Json> remapIndices(const FieldSpec &Spec, const Json &Old,
                                  llvm::ArrayRef<uint32_t> Map, uint32_t SourceCount);

/// R-dict: keys are layer indices; each output layer whose source has an
/// entry gets a deep copy, keyed by zero-padded decimal strings.
llvm::Expected<Json> remapDict(const Json &Old, llvm::ArrayRef<uint32_t> Map,
                               uint32_t SourceCount);

/// Returns the layer-indexed view of \p Value for layer \p Layer: the list
/// entry, the pattern character, or membership for an index list.
Json perLayerValue(const FieldSpec &Spec, const Json &Value, uint32_t Layer);

/// Compares per-layer values, taking a bool and a number as equal when they
/// mean the same (GGUF stores per-layer flags as BOOL or as INT32 1/0).
bool sameLayerValue(const Json &A, const Json &B);

/// Returns the explicit list at \p Path in \p Decoder, or nullptr when it is
/// absent, null, or an empty value list (which means "not given").
const Json *explicitList(const Json &Decoder, llvm::StringRef Path, const FieldSpec *Spec);

/// Builds a field value of \p Spec's kind from one value per layer; for
/// index lists, layers whose value is true are listed.
Json fieldFromPerLayer(const FieldSpec &Spec, llvm::ArrayRef<Json> PerLayer);

/// Returns the value of \p Schedule's scalar in \p Decoder, or its default
/// when the scalar is absent or null. Returns null when it has neither.
Json scheduleScalar(const ScheduleSpec &Schedule, const Json &Decoder);

/// Evaluates \p Schedule's generator with the scalar set to \p Scalar for
/// layers 0 .. \p Count + \p Extra - 1, where `n` is \p Count.
llvm::Expected<std::vector<Json>> evaluateSchedule(const ScheduleSpec &Schedule,
                                                   const Json &Scalar, const Json &Decoder,
                                                   uint32_t Count, uint32_t Extra = 0);

/// Returns each layer's value of \p Field as a reader of \p Decoder reads it:
/// the explicit list when there is one, else the values that its schedule
/// generates for \p Count layers. Returns std::nullopt when there is neither
/// a list nor a schedule with a scalar, and an error when the schedule
/// cannot be evaluated.
llvm::Expected<std::optional<std::vector<Json>>>
layerValues(const Profile &P, const Json &Decoder, const std::string &Field, uint32_t Count);

} // namespace rysc

#endif // RYSC_COMPILER_FIELDRULES_H
