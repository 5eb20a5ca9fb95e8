// Tests of the SHA-256 implementation: published digests, and agreement
// with LLVM's independent implementation on both block functions.
#include "compiler/Sha256.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/SHA256.h"

#include <gtest/gtest.h>

#include <iostream>
#include <random>
#include <string>

namespace rysc {
namespace {

std::string llvmHex(llvm::StringRef Data) {
  return llvm::toHex(llvm::SHA256::hash(llvm::arrayRefFromStringRef(Data)),
                     /*LowerCase=*/true);
}

/// Runs each test once with the block function this CPU selects and once
/// with the portable one.
class Sha256Test : public ::testing::TestWithParam<bool> {
protected:
  void SetUp() override { Sha256::forcePortable(GetParam()); }
  void TearDown() override { Sha256::forcePortable(false); }
};

TEST_P(Sha256Test, PublishedDigests) {
  // FIPS 180-2 appendix B and the empty message.
  EXPECT_EQ(Sha256::hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256::hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256::hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Sha256::hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_P(Sha256Test, AgreesWithLlvmOnEveryLength) {
  std::mt19937 Random(7);
  std::string Data;
  for (size_t Length = 0; Length <= 300; ++Length) {
    SCOPED_TRACE(Length);
    EXPECT_EQ(Sha256::hex(Data), llvmHex(Data));
    Data += static_cast<char>(Random());
  }
}

TEST_P(Sha256Test, SplitUpdatesAgree) {
  std::mt19937 Random(11);
  std::string Data(100000, '\0');
  for (char &C : Data)
    C = static_cast<char>(Random());
  std::string Expected = llvmHex(Data);

  for (size_t Step : {1u, 3u, 63u, 64u, 65u, 4096u, 99999u}) {
    SCOPED_TRACE(Step);
    Sha256 Hash;
    for (size_t At = 0; At < Data.size(); At += Step)
      Hash.update(llvm::StringRef(Data).substr(At, Step));
    EXPECT_EQ(Sha256::toHex(Hash.final()), Expected);
  }
}

INSTANTIATE_TEST_SUITE_P(BlockFunctions, Sha256Test, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool> &Info) {
                           return Info.param ? "Portable" : "Selected";
                         });

TEST(Sha256CpuTest, ShaExtensionsMatchCpuid) {
  // Forcing the portable function must turn the SHA extensions off. The
  // printed line says which function this CPU selects.
  std::cout << "SHA extensions in use: " << (Sha256::usesShaExtensions() ? "yes" : "no") << "\n";
  Sha256::forcePortable(true);
  EXPECT_FALSE(Sha256::usesShaExtensions());
  Sha256::forcePortable(false);
}

} // namespace
} // namespace rysc
