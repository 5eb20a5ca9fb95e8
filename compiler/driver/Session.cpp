// One run of `plan` or `apply`.
#include "Session.h"

#include "backends/ModelLoader.h"
#include "compiler/Parser.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

namespace rysc::driver {

Session::Session(const Options &Opts) : Opts(Opts), Diags(llvm::errs()) {}

bool Session::readModel(const std::string &Path) {
  ModelPath = Path;
  if (llvm::sys::fs::is_directory(Path)) {
    auto Model = hf::readHfModel(Path);
    if (!Model) {
      Diags.error(llvm::toString(Model.takeError()));
      return false;
    }
    Hf = std::move(*Model);
    Facts = Hf->facts();
    Kind = InputKind::HfFolder;
    return true;
  }
  if (!llvm::sys::fs::exists(Path)) {
    Diags.error("'" + Path + "': no such file or folder");
    return false;
  }
  // A .gguf name is read as GGUF even when the magic is wrong, so that a
  // damaged file gets the GGUF reader's message.
  if (gguf::isGgufFile(Path) || llvm::StringRef(Path).endswith_insensitive(".gguf")) {
    auto Model = gguf::readGgufModel(Path);
    if (!Model) {
      Diags.error(llvm::toString(Model.takeError()) +
                  " (the file is damaged or not GGUF; download or convert it again)");
      return false;
    }
    Gguf = std::move(*Model);
    Kind = Gguf->IsImatrix ? InputKind::GgufImatrix : InputKind::Gguf;
    if (Kind == InputKind::Gguf)
      Facts = Gguf->facts();
    return true;
  }

  // Anything else must be a legacy imatrix; it is small, so it is read whole.
  auto Buffer = llvm::MemoryBuffer::getFile(Path, /*IsText=*/false, false);
  if (!Buffer) {
    Diags.error("'" + Path + "': cannot read: " + Buffer.getError().message());
    return false;
  }
  auto File = imatrix::parseDat(Path, (*Buffer)->getBuffer());
  if (!File) {
    Diags.error(llvm::toString(File.takeError()) +
                " (the input is neither a Hugging Face folder, a GGUF file nor a legacy imatrix)");
    return false;
  }
  Dat = std::move(*File);
  Kind = InputKind::DatImatrix;
  return true;
}

bool Session::compile(const std::string &RecipePath, const std::string *Model) {
  auto Buffer = llvm::MemoryBuffer::getFile(RecipePath, /*IsText=*/true);
  if (!Buffer) {
    Diags.error("'" + RecipePath + "': cannot read the recipe: " + Buffer.getError().message());
    return false;
  }
  Source.Name = llvm::sys::path::filename(RecipePath).str();
  Source.Text = (*Buffer)->getBuffer().str();
  Diags.setWarningsAsErrors(Opts.Strict);
  Registry.loadStdlib(Diags);
  Recipe = parseRecipeText(Diags, Source.Text, RecipePath);
  if (Model && !readModel(*Model))
    return false;
  if (Diags.hasErrors())
    return false;

  CompileOptions Options;
  Options.Layers = Opts.Layers;
  Options.Strict = Opts.Strict;
  // An imatrix has no config: its layer count comes from its entry names
  // unless --layers gives the trunk count (entries for an MTP block would
  // otherwise count as trunk).
  if (!Options.Layers && Kind == InputKind::GgufImatrix)
    Options.Layers = gguf::imatrixLayerCount(*Gguf);
  if (!Options.Layers && Kind == InputKind::DatImatrix)
    Options.Layers = imatrix::layerCount(*Dat);
  if (Opts.MaxShardSize && Kind != InputKind::HfFolder && Kind != InputKind::None) {
    Diags.error("--max-shard-size applies to Hugging Face outputs; use --split-max-size for GGUF");
    return false;
  }
  if (Opts.SplitMaxSize && Kind != InputKind::Gguf && Kind != InputKind::None) {
    Diags.error("--split-max-size applies to GGUF model outputs; use --max-shard-size for "
                "Hugging Face folders");
    return false;
  }
  if (Kind == InputKind::GgufImatrix || Kind == InputKind::DatImatrix) {
    uint32_t Named = Kind == InputKind::GgufImatrix ? gguf::imatrixLayerCount(*Gguf)
                                                    : imatrix::layerCount(*Dat);
    if (*Options.Layers < Named)
      Diags.warning("the imatrix names blocks up to " + std::to_string(Named - 1) + ", but " +
                    "--layers is " + std::to_string(*Options.Layers) + "; blocks " +
                    std::to_string(*Options.Layers) + " and up are treated as extra blocks "
                    "(such as MTP) and renumbered after the new trunk");
  }
  bool HasFacts = Kind == InputKind::HfFolder || Kind == InputKind::Gguf;
  Compiled = compileRecipe(Diags, Registry, Recipe, HasFacts ? &Facts : nullptr, Options);
  if (Compiled && !HasFacts && Kind != InputKind::None)
    Compiled->Stack.Prefix = "blk";
  if (Compiled && HasFacts)
    readSourceProvenance();
  return Compiled.has_value();
}

void Session::readSourceProvenance() {
  auto Record = Hf ? readProvenance(*Hf) : readProvenance(*Gguf);
  if (!Record) {
    Diags.warning(llvm::toString(Record.takeError()) +
                  "; the output's record will not include it");
    return;
  }
  SourceProvenance = std::move(*Record);
  if (!SourceProvenance)
    return;

  // The record is chained either way, and only the composed map is left out.
  auto Original = composeOriginalMap(Compiled->Map, *SourceProvenance);
  if (!Original)
    Diags.warning("the source's provenance record cannot be composed with this recipe's map: " +
                  llvm::toString(Original.takeError()) +
                  "; the output's record keeps it under 'previous' without 'original_map'");
}

std::string Session::provenanceText(llvm::StringRef Format, llvm::StringRef ConfigText) const {
  const Json *Previous = SourceProvenance ? &*SourceProvenance : nullptr;
  return buildProvenance(*Compiled, Source, Format, ConfigText, Previous).dump(2) + "\n";
}

bool Session::planHf() {
  hf::HfPlanOptions Options;
  Options.MaxShardSize = Opts.MaxShardSize;
  Options.CopyAlignment = Opts.CopyAlignment;
  Options.ProvenanceJson = provenanceText("safetensors", Hf->ConfigText);
  auto Plan = hf::planHf(*Hf, *Compiled, Options);
  if (!Plan) {
    Diags.error(llvm::toString(Plan.takeError()));
    return false;
  }
  HfPlan = std::move(*Plan);
  for (const std::string &Warning : HfPlan->Warnings)
    Diags.warning(Warning);
  return true;
}

bool Session::planGguf(llvm::StringRef OutName) {
  gguf::GgufPlanOptions Options;
  Options.SplitMaxSize = Opts.SplitMaxSize;
  Options.CopyAlignment = Opts.CopyAlignment;
  std::string Metadata = Kind == InputKind::Gguf ? Facts.Config.dump() : std::string();
  Options.ProvenanceJson = provenanceText("gguf", Metadata);
  auto Plan = gguf::planGguf(*Gguf, *Compiled, OutName, Options);
  if (!Plan) {
    Diags.error(llvm::toString(Plan.takeError()));
    return false;
  }
  GgufPlan = std::move(*Plan);
  return true;
}

bool Session::plan(llvm::StringRef OutName) {
  // The output format follows the input, so a mismatched extension would
  // hide a file of one format behind the other's name.
  bool GgufOut = Kind == InputKind::Gguf || Kind == InputKind::GgufImatrix;
  if (!OutName.empty() && (Kind == InputKind::Gguf || Kind == InputKind::GgufImatrix ||
                           Kind == InputKind::DatImatrix) &&
      OutName.endswith(".gguf") != GgufOut) {
    Diags.error("'" + OutName + "': the output is written in the input's format (" +
                (GgufOut ? "GGUF" : "legacy imatrix") + "), so name it " +
                (GgufOut ? "with" : "without") + " the .gguf extension");
    return false;
  }
  bool Ok = true;
  switch (Kind) {
  case InputKind::None:
    return true;
  case InputKind::HfFolder:
    Ok = planHf();
    break;
  case InputKind::Gguf:
  case InputKind::GgufImatrix:
    Ok = planGguf(OutName.empty() ? "output.gguf" : OutName);
    break;
  case InputKind::DatImatrix: {
    PlannedFile File;
    File.Path = OutName.empty() ? "output.dat" : OutName.str();
    File.Prefix = imatrix::serialize(imatrix::remap(*Dat, Compiled->Map));
    File.Size = File.Prefix.size();
    DatPlan.emplace();
    DatPlan->Files.push_back(std::move(File));
    break;
  }
  }
  return Ok && !Diags.hasErrors();
}

const WritePlan *Session::writePlan() const {
  if (HfPlan)
    return &HfPlan->Write;
  if (GgufPlan)
    return &GgufPlan->Write;
  if (DatPlan)
    return &*DatPlan;
  return nullptr;
}

} // namespace rysc::driver
