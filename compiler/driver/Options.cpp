// The option table and parser of the rysc command line.
#include "Options.h"

#include "compiler/Diagnostics.h"
#include "compiler/Error.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/MathExtras.h"

namespace rysc::driver {

namespace {

struct CommandSpec {
  const char *Name;
  const char *Arguments;
  const char *Help;
  const char *Options; ///< The options it takes, space-separated.
};

const CommandSpec Commands[] = {
    {"plan", "RECIPE [MODEL]", "show what apply would do; reads only config and headers",
     "--layers --format --max-shard-size --split-max-size --copy-alignment --strict"},
    {"apply", "RECIPE MODEL OUT", "write the output: a new folder OUT, or file OUT for GGUF",
     "--layers --max-shard-size --split-max-size --copy-alignment --jobs --force --strict "
     "--verbose"},
    {"verify", "RECIPE SOURCE OUT", "check that OUT is exactly what the recipe makes of SOURCE",
     "--format --jobs --strict"},
    {"check", "MODEL", "check a checkpoint's internal consistency, with no recipe",
     "--format --strict"},
    {"inspect", "MODEL", "show a checkpoint's layers, schedules, fields and files", "--format"},
    {"profiles", "[NAME]", "list the architecture profiles, or print one", ""},
};

enum class OptionId {
  Layers,
  Format,
  MaxShardSize,
  SplitMaxSize,
  CopyAlignment,
  Jobs,
  Force,
  Strict,
  Verbose,
  Help,
  Version
};

struct OptionSpec {
  OptionId Id;
  const char *Name;
  const char *Value; ///< Placeholder for the value, or nullptr for a flag.
  const char *Help;
};

const OptionSpec OptionTable[] = {
    {OptionId::Layers, "--layers", "N", "source layer count, for plan without a model"},
    {OptionId::Format, "--format", "text|json",
     "output format of plan, verify, check and inspect (default: text)"},
    {OptionId::MaxShardSize, "--max-shard-size", "SIZE",
     "tensor data bytes per Hugging Face output shard, e.g. 5GB or 4GiB (default: the "
     "source's largest shard; a single-file source stays one file)"},
    {OptionId::SplitMaxSize, "--split-max-size", "SIZE",
     "tensor data bytes per GGUF output part, e.g. 4GB (default: as many parts as the source)"},
    {OptionId::CopyAlignment, "--copy-alignment", "SIZE",
     "pad headers so that copied bytes keep their source offset modulo SIZE, a power of two "
     "(default: 2MiB, for files that copy at least 64 times SIZE; 0 turns it off)"},
    {OptionId::Jobs, "--jobs", "N",
     "files written or tensors hashed in parallel (default: the core count)"},
    {OptionId::Force, "--force", nullptr, "replace OUT if it exists and is not empty"},
    {OptionId::Strict, "--strict", nullptr, "treat every warning as an error"},
    {OptionId::Verbose, "--verbose", nullptr, "print every copy apply performs"},
    {OptionId::Help, "--help", nullptr, "print this help"},
    {OptionId::Version, "--version", nullptr, "print the rysc version"},
};

std::vector<std::string> optionNames() {
  std::vector<std::string> Names;
  for (const OptionSpec &Spec : OptionTable)
    Names.push_back(Spec.Name);
  return Names;
}

std::vector<std::string> commandNames() {
  std::vector<std::string> Names;
  for (const CommandSpec &Spec : Commands)
    Names.push_back(Spec.Name);
  return Names;
}

llvm::Error usageError(const llvm::Twine &Message) { return plainError(Message); }

llvm::Error applyOption(Options &Result, const OptionSpec &Spec, llvm::StringRef Value) {
  switch (Spec.Id) {
  case OptionId::Layers: {
    uint32_t Layers = 0;
    if (Value.getAsInteger(10, Layers) || Layers == 0)
      return usageError("--layers needs a positive integer, found '" + Value + "'");
    Result.Layers = Layers;
    return llvm::Error::success();
  }
  case OptionId::Format:
    if (Value != "text" && Value != "json")
      return usageError("--format must be 'text' or 'json', found '" + Value + "'");
    Result.Format = Value.str();
    return llvm::Error::success();
  case OptionId::MaxShardSize:
    Result.MaxShardSize = parseSize(Value);
    if (!Result.MaxShardSize || *Result.MaxShardSize == 0)
      return usageError("--max-shard-size needs a size such as 5GB or 4GiB, found '" + Value + "'");
    return llvm::Error::success();
  case OptionId::SplitMaxSize:
    Result.SplitMaxSize = parseSize(Value);
    if (!Result.SplitMaxSize || *Result.SplitMaxSize == 0)
      return usageError("--split-max-size needs a size such as 4GB or 2GiB, found '" + Value + "'");
    return llvm::Error::success();
  case OptionId::CopyAlignment: {
    std::optional<uint64_t> Size = parseSize(Value);
    if (Size && *Size <= (1ull << 30) && (*Size == 0 || llvm::isPowerOf2_64(*Size))) {
      Result.CopyAlignment = *Size;
      return llvm::Error::success();
    }
    std::string Message = "--copy-alignment needs 0 or a power of two up to 1GiB, such as 2MiB, "
                          "found '" + Value.str() + "'";
    bool Decimal = llvm::any_of(std::initializer_list<llvm::StringRef>{"KB", "MB", "GB", "TB"},
                                [&](llvm::StringRef Unit) { return Value.endswith_insensitive(Unit); });
    if (Size && Decimal)
      Message += ", which is " + std::to_string(*Size) +
                 " bytes: KB, MB, GB and TB are powers of 1000, so write KiB, MiB or GiB";
    return usageError(Message);
  }
  case OptionId::Jobs:
    if (Value.getAsInteger(10, Result.Jobs) || Result.Jobs == 0)
      return usageError("--jobs needs a positive integer, found '" + Value + "'");
    return llvm::Error::success();
  case OptionId::Force:
    Result.Force = true;
    return llvm::Error::success();
  case OptionId::Strict:
    Result.Strict = true;
    return llvm::Error::success();
  case OptionId::Verbose:
    Result.Verbose = true;
    return llvm::Error::success();
  case OptionId::Help:
    Result.Help = true;
    return llvm::Error::success();
  case OptionId::Version:
    Result.Version = true;
    return llvm::Error::success();
  }
  return llvm::Error::success();
}

const OptionSpec *findOption(llvm::StringRef Name) {
  for (const OptionSpec &Spec : OptionTable)
    if (Name == Spec.Name)
      return &Spec;
  if (Name == "-h")
    return findOption("--help");
  return nullptr;
}

} // namespace

std::optional<uint64_t> parseSize(llvm::StringRef Text) {
  struct Unit {
    const char *Suffix;
    uint64_t Factor;
  };
  // Longer suffixes come first, so "4KiB" is not read as "4Ki" and "B".
  // Case does not matter: "4kib", "4KiB" and "4KIB" are the same size.
  static const Unit Units[] = {{"KiB", 1ull << 10}, {"MiB", 1ull << 20}, {"GiB", 1ull << 30},
                               {"TiB", 1ull << 40}, {"KB", 1000ull},     {"MB", 1000000ull},
                               {"GB", 1000000000ull}, {"TB", 1000000000000ull}, {"K", 1ull << 10},
                               {"M", 1ull << 20},   {"G", 1ull << 30},   {"T", 1ull << 40},
                               {"B", 1}};
  uint64_t Factor = 1;
  for (const Unit &U : Units)
    if (Text.endswith_insensitive(U.Suffix)) {
      Text = Text.drop_back(llvm::StringRef(U.Suffix).size());
      Factor = U.Factor;
      break;
    }
  uint64_t Value = 0;
  if (Text.empty() || Text.getAsInteger(10, Value) || Value > UINT64_MAX / Factor)
    return std::nullopt;
  return Value * Factor;
}

llvm::Expected<Options> parseOptions(llvm::ArrayRef<const char *> Args) {
  Options Result;
  std::vector<std::string> Given;
  bool OptionsEnded = false;
  for (size_t Index = 1; Index < Args.size(); ++Index) {
    llvm::StringRef Arg(Args[Index]);
    if (OptionsEnded || !Arg.startswith("-") || Arg == "-") {
      if (Result.Command.empty())
        Result.Command = Arg.str();
      else
        Result.Positional.push_back(Arg.str());
      continue;
    }
    if (Arg == "--") {
      OptionsEnded = true;
      continue;
    }
    auto [Name, Inline] = Arg.split('=');
    const OptionSpec *Spec = findOption(Name);
    if (!Spec)
      return usageError("unknown option '" + Name + "'" + didYouMean(Name, optionNames()));
    llvm::StringRef Value = Inline;
    if (Spec->Value && !Arg.contains('=')) {
      if (Index + 1 >= Args.size())
        return usageError("option '" + Name + "' needs a value (" + Spec->Value + ")");
      Value = Args[++Index];
    }
    if (!Spec->Value && Arg.contains('='))
      return usageError("option '" + Name + "' takes no value");
    if (llvm::Error E = applyOption(Result, *Spec, Value))
      return std::move(E);
    Given.push_back(Spec->Name);
  }
  if (Result.Help || Result.Version)
    return Result;
  if (Result.Command.empty())
    return usageError("no command given; run 'rysc --help' for the list");
  if (!llvm::is_contained(commandNames(), Result.Command))
    return usageError("unknown command '" + Result.Command + "'" +
                      didYouMean(Result.Command, commandNames()));
  for (const CommandSpec &Command : Commands) {
    if (Result.Command != Command.Name)
      continue;
    llvm::SmallVector<llvm::StringRef, 8> Allowed;
    llvm::StringRef(Command.Options).split(Allowed, ' ', -1, false);
    for (const std::string &Name : Given)
      if (!llvm::is_contained(Allowed, Name))
        return usageError("option '" + Name + "' does not apply to '" + Result.Command + "'");
  }
  return Result;
}

void printHelp(llvm::raw_ostream &OS) {
  OS << "rysc: compile .rys recipes that duplicate or drop decoder layers of LLM checkpoints\n\n"
     << "usage: rysc COMMAND [OPTIONS] ARGUMENTS\n\ncommands:\n";
  for (const CommandSpec &Spec : Commands) {
    std::string Left = std::string(Spec.Name) + " " + Spec.Arguments;
    OS << "  " << llvm::left_justify(Left, 26) << Spec.Help << "\n";
  }
  OS << "\noptions:\n";
  for (const OptionSpec &Spec : OptionTable) {
    std::string Left = Spec.Name;
    if (Spec.Value)
      Left += std::string(" ") + Spec.Value;
    OS << "  " << llvm::left_justify(Left, 26) << Spec.Help << "\n";
  }
  OS << "\nexit status: 0 success, 1 errors in the recipe, model or output, 2 usage error,\n"
     << "130 interrupted\n";
}

} // namespace rysc::driver
