// The provenance record written beside every output: the recipe, the map
// and every config edit, so that an artifact says how it was made.
#ifndef RYSC_COMPILER_PROVENANCE_H
#define RYSC_COMPILER_PROVENANCE_H

#include "compiler/Compiler.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <string>

namespace rysc {

/// The recipe a compilation came from.
struct RecipeSource {
  std::string Name; ///< The file's base name; never a full path.
  std::string Text;
};

/// Returns the lowercase hex SHA-256 of \p Data.
std::string sha256Hex(llvm::StringRef Data);

/// Builds the provenance record. It contains no timestamp and no output path,
/// so that two runs of the same recipe on the same source write the same
/// bytes. When the source is itself a rysc output, \p Previous is the
/// source's record. It is kept whole under "previous", and "original_map"
/// maps each output layer to a layer of the first model in the chain.
Json buildProvenance(const Compilation &C, const RecipeSource &Recipe,
                     llvm::StringRef SourceFormat, llvm::StringRef SourceConfigText,
                     const Json *Previous = nullptr);

/// Composes \p Map with the map of \p Previous, a record of the source. The
/// result maps each output layer to a layer of the first model in the chain.
/// Fails when the previous record's map does not have one entry per source
/// layer.
llvm::Expected<Json> composeOriginalMap(const LayerMap &Map, const Json &Previous);

/// Returns the map and seams as JSON, shared by provenance and `plan --format json`.
Json mapToJson(const LayerMap &Map);
Json seamsToJson(const LayerMap &Map);
Json editsToJson(const std::vector<ConfigEdit> &Edits);

} // namespace rysc

#endif // RYSC_COMPILER_PROVENANCE_H
