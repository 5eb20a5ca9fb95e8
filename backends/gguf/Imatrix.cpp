// The legacy imatrix format.
#include "backends/gguf/Imatrix.h"
#include "compiler/Error.h"
#include "compiler/LayerNames.h"

#include "llvm/Support/Endian.h"

#include <algorithm>
#include <map>

namespace rysc::imatrix {

namespace {

/// A bounded little-endian reader with a sticky position.
class Cursor {
public:
  Cursor(llvm::StringRef Path, llvm::StringRef Bytes) : Path(Path), Bytes(Bytes) {}

  llvm::Expected<int32_t> readInt(const llvm::Twine &What) {
    if (Bytes.size() - Pos < 4)
      return truncated(What);
    int32_t Value = llvm::support::endian::read32le(Bytes.data() + Pos);
    Pos += 4;
    return Value;
  }

  llvm::Expected<llvm::StringRef> take(uint64_t Size, const llvm::Twine &What) {
    if (Bytes.size() - Pos < Size)
      return truncated(What);
    llvm::StringRef Result = Bytes.substr(Pos, Size);
    Pos += Size;
    return Result;
  }

  llvm::Error fail(const llvm::Twine &Message) { return fileError(Path, Message); }
  bool atEnd() const { return Pos == Bytes.size(); }
  llvm::StringRef rest() const { return Bytes.drop_front(Pos); }

private:
  llvm::Error truncated(const llvm::Twine &What) {
    return fileError(Path, "truncated: " + What + " at offset " + llvm::Twine(Pos) +
                               " runs past the end of the file (" + llvm::Twine(Bytes.size()) +
                               " bytes)");
  }

  llvm::StringRef Path;
  llvm::StringRef Bytes;
  uint64_t Pos = 0;
};

llvm::Expected<Entry> parseEntry(Cursor &C, uint32_t Index) {
  Entry E;
  auto Length = C.readInt("the name length of entry " + llvm::Twine(Index));
  if (!Length)
    return Length.takeError();
  if (*Length < 1)
    return C.fail("entry " + llvm::Twine(Index) + " has name length " + llvm::Twine(*Length) +
                  ", expected at least 1");
  auto Name = C.take(static_cast<uint64_t>(*Length), "the name of entry " + llvm::Twine(Index));
  if (!Name)
    return Name.takeError();
  E.Name = Name->str();
  auto Calls = C.readInt("the call count of '" + E.Name + "'");
  if (!Calls)
    return Calls.takeError();
  E.CallCount = *Calls;
  auto Count = C.readInt("the value count of '" + E.Name + "'");
  if (!Count)
    return Count.takeError();
  if (*Count < 1)
    return C.fail("entry '" + E.Name + "' has " + llvm::Twine(*Count) +
                  " values, expected at least 1");
  auto Values = C.take(4 * static_cast<uint64_t>(*Count), "the values of '" + E.Name + "'");
  if (!Values)
    return Values.takeError();
  E.Values = Values->str();
  return E;
}

} // namespace

llvm::Expected<DatFile> parseDat(llvm::StringRef Path, llvm::StringRef Bytes) {
  Cursor C(Path, Bytes);
  auto Count = C.readInt("the entry count");
  if (!Count)
    return Count.takeError();
  if (*Count < 1 || static_cast<uint32_t>(*Count) > MaxEntries)
    return C.fail("entry count is " + llvm::Twine(*Count) + ", expected 1 to " +
                  llvm::Twine(MaxEntries));
  DatFile File;
  std::map<std::string, bool> Seen;
  for (uint32_t Index = 0; Index < static_cast<uint32_t>(*Count); ++Index) {
    auto E = parseEntry(C, Index);
    if (!E)
      return E.takeError();
    if (Seen[E->Name])
      return C.fail("entry '" + E->Name + "' appears twice");
    Seen[E->Name] = true;
    File.Entries.push_back(std::move(*E));
  }
  File.Trailer = C.rest().str();
  return File;
}

uint32_t layerCount(const DatFile &File) {
  uint32_t Count = 0;
  for (const Entry &E : File.Entries)
    if (auto Split = splitLayerTensorName(E.Name, "blk"))
      Count = std::max(Count, Split->Layer + 1);
  return Count;
}

DatFile remap(const DatFile &File, const LayerMap &Map) {
  std::map<uint32_t, std::vector<std::pair<std::string, const Entry *>>> ByBlock;
  DatFile Result;
  Result.Trailer = File.Trailer;
  for (const Entry &E : File.Entries) {
    if (auto Split = splitLayerTensorName(E.Name, "blk"))
      ByBlock[Split->Layer].push_back({Split->Rest.str(), &E});
    else
      Result.Entries.push_back(E);
  }
  auto Add = [&](uint32_t Source, uint32_t Out) {
    for (const auto &[Rest, E] : ByBlock[Source]) {
      Entry Copy = *E;
      Copy.Name = layerTensorName("blk", Out, Rest);
      Result.Entries.push_back(std::move(Copy));
    }
  };
  for (uint32_t Out = 0; Out < Map.outputCount(); ++Out)
    Add(Map[Out].Source, Out);
  // Blocks past the trunk (an MTP block) follow the new trunk.
  for (const auto &[Block, Entries] : ByBlock)
    if (Block >= Map.sourceCount())
      Add(Block, Block - Map.sourceCount() + Map.outputCount());
  std::sort(Result.Entries.begin(), Result.Entries.end(),
            [](const Entry &A, const Entry &B) { return A.Name < B.Name; });
  return Result;
}

std::string serialize(const DatFile &File) {
  std::string Out;
  auto WriteInt = [&](int32_t Value) {
    char Buffer[4];
    llvm::support::endian::write32le(Buffer, static_cast<uint32_t>(Value));
    Out.append(Buffer, 4);
  };
  WriteInt(static_cast<int32_t>(File.Entries.size()));
  for (const Entry &E : File.Entries) {
    WriteInt(static_cast<int32_t>(E.Name.size()));
    Out += E.Name;
    WriteInt(E.CallCount);
    WriteInt(static_cast<int32_t>(E.Values.size() / 4));
    Out += E.Values;
  }
  Out += File.Trailer;
  return Out;
}

} // namespace rysc::imatrix
