// A mutation driver for fuzz targets that libFuzzer cannot build. The recipe
// parser includes Debian's ANTLR 4.9 runtime headers, which clang 14 rejects,
// so its target is built with the project's compiler and this main() instead.
// There is no coverage feedback: each run takes a random seed file and applies
// a few random edits (byte flips, deletions, copies, splices from another seed
// and grammar tokens). Runs are reproducible from --seed.
//
// Usage: FuzzRecipeCompiler [--runs N] [--seed S] [--keep FILE] SEED_FILE...
// Before each run the input is written to FILE (default: fuzz-input.rys in the
// working folder), so that after a crash or sanitizer report the input that
// caused it is on disk. A seed file alone is run once, unmutated, first.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *Data, size_t Size);

namespace {

// Tokens of the recipe grammar, so that edits produce near-valid recipes
// more often than random bytes would.
const char *const Tokens[] = {
    "rys 1;", "duplicate", "drop", "blocks", "[", "]", ":", ";", "after", "before", "times",
    "remap", "per_layer", "*", "expect", "layers", "keep", "profile", "extends", "match",
    "model_type", "gguf_arch", "decoder", "stack", "field", "schedule", "generates", "derive",
    "extra_stack", "packed_tensor", "not_per_layer", "forbid", "require", "warn", "when", "use",
    "meaning", "default", "in", "pinned", "root", "tensors", "{", "}", "(", ")", "\"", "\\",
    "#", "//", "/*", "*/", ",", ".", "=", "==", "!=", "!", "<", "<=", ">", ">=", "+", "-", "/",
    "&&", "||", "?", "%", "src", "out", "layer_count", "count", "prefix", "true", "false", "null",
    "0", "1", "-1", "4294967295", "18446744073709551616", "\n", " ", "\t", "\xff", "\0"};

struct Options {
  unsigned long Runs = 10000;
  unsigned long Seed = 1;
  std::string Keep = "fuzz-input.rys";
  std::vector<std::string> SeedFiles;
};

bool parseArguments(int Argc, char **Argv, Options &Opts) {
  for (int I = 1; I < Argc; ++I) {
    std::string Arg = Argv[I];
    bool HasValue = I + 1 < Argc;
    if (Arg == "--runs" && HasValue)
      Opts.Runs = std::strtoul(Argv[++I], nullptr, 10);
    else if (Arg == "--seed" && HasValue)
      Opts.Seed = std::strtoul(Argv[++I], nullptr, 10);
    else if (Arg == "--keep" && HasValue)
      Opts.Keep = Argv[++I];
    else if (Arg.rfind("--", 0) == 0)
      return false;
    else
      Opts.SeedFiles.push_back(Arg);
  }
  return !Opts.SeedFiles.empty();
}

std::string readFile(const std::string &Path) {
  std::ifstream In(Path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(In), std::istreambuf_iterator<char>());
}

class Mutator {
public:
  Mutator(const std::vector<std::string> &Seeds, unsigned long Seed)
      : Seeds(Seeds), Random(Seed) {}

  std::string next() {
    std::string Input = Seeds[pick(Seeds.size())];
    unsigned Edits = 1 + pick(4);
    for (unsigned I = 0; I < Edits; ++I)
      mutate(Input);
    return Input;
  }

private:
  size_t pick(size_t Bound) { return Bound == 0 ? 0 : Random() % Bound; }

  void mutate(std::string &Input) {
    size_t At = pick(Input.size() + 1);
    switch (pick(6)) {
    case 0: // Flip one bit.
      if (!Input.empty())
        Input[pick(Input.size())] ^= static_cast<char>(1u << pick(8));
      break;
    case 1: // Delete a short range.
      Input.erase(At, 1 + pick(16));
      break;
    case 2: { // Copy a short range of the input elsewhere in it.
      size_t From = pick(Input.size() + 1);
      std::string Part = Input.substr(From, 1 + pick(32));
      Input.insert(pick(Input.size() + 1), Part);
      break;
    }
    case 3: { // Splice in a range of another seed.
      const std::string &Other = Seeds[pick(Seeds.size())];
      Input.insert(At, Other.substr(pick(Other.size() + 1), 1 + pick(64)));
      break;
    }
    case 4: { // Insert a grammar token.
      const char *Token = Tokens[pick(std::size(Tokens))];
      Input.insert(At, Token, std::max<size_t>(1, std::strlen(Token)));
      break;
    }
    default: // Insert a random 64-bit number.
      Input.insert(At, std::to_string(static_cast<int64_t>(Random())));
      break;
    }
  }

  const std::vector<std::string> &Seeds;
  std::mt19937_64 Random;
};

void run(const std::string &Input, const std::string &Keep) {
  // Written before the run, so a crash leaves the input behind.
  std::ofstream(Keep, std::ios::binary | std::ios::trunc) << Input;
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t *>(Input.data()), Input.size());
}

} // namespace

int main(int Argc, char **Argv) {
  Options Opts;
  if (!parseArguments(Argc, Argv, Opts)) {
    std::cerr << "usage: " << Argv[0] << " [--runs N] [--seed S] [--keep FILE] SEED_FILE...\n";
    return 2;
  }

  std::vector<std::string> Seeds;
  for (const std::string &Path : Opts.SeedFiles) {
    std::ifstream Probe(Path, std::ios::binary);
    if (!Probe) {
      std::cerr << "error: '" << Path << "': cannot open the seed file\n";
      return 2;
    }
    Seeds.push_back(readFile(Path));
  }

  for (const std::string &Input : Seeds)
    run(Input, Opts.Keep);
  Mutator Mutate(Seeds, Opts.Seed);
  for (unsigned long I = 0; I < Opts.Runs; ++I)
    run(Mutate.next(), Opts.Keep);
  std::remove(Opts.Keep.c_str());
  std::cout << "ran " << Seeds.size() << " seeds and " << Opts.Runs
            << " mutated inputs (seed " << Opts.Seed << "), no crash\n";
  return 0;
}
