// SHA-256 with a portable block function and one for the x86 SHA extensions.
#include "compiler/Sha256.h"

#include <algorithm>
#include <atomic>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#define RYSC_SHA256_X86 1
#endif

namespace rysc {

namespace {

// Round constants: the first 32 bits of the fractional parts of the cube
// roots of the first 64 primes (FIPS 180-4, section 4.2.2), computed with
// integer cube roots.
alignas(16) constexpr uint32_t RoundConstants[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5,
    0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
    0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3,
    0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5,
    0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

// The initial hash value: the first 32 bits of the fractional parts of the
// square roots of the first 8 primes (section 5.3.3).
constexpr std::array<uint32_t, 8> InitialState = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
    0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

using BlockFunction = void (*)(uint32_t *State, const uint8_t *Data,
                               size_t Blocks);

uint32_t rotateRight(uint32_t Value, unsigned Count) {
  return (Value >> Count) | (Value << (32 - Count));
}

uint32_t readBigEndian32(const uint8_t *Bytes) {
  return uint32_t(Bytes[0]) << 24 | uint32_t(Bytes[1]) << 16 |
         uint32_t(Bytes[2]) << 8 | uint32_t(Bytes[3]);
}

/// The block function of section 6.2.2, one 64-byte block at a time.
void portableBlocks(uint32_t *State, const uint8_t *Data, size_t Blocks) {
  for (; Blocks > 0; --Blocks, Data += 64) {
    uint32_t W[64];
    for (unsigned T = 0; T < 16; ++T)
      W[T] = readBigEndian32(Data + 4 * T);
    for (unsigned T = 16; T < 64; ++T) {
      uint32_t Sigma0 = rotateRight(W[T - 15], 7) ^
                        rotateRight(W[T - 15], 18) ^ (W[T - 15] >> 3);
      uint32_t Sigma1 = rotateRight(W[T - 2], 17) ^
                        rotateRight(W[T - 2], 19) ^ (W[T - 2] >> 10);
      W[T] = Sigma1 + W[T - 7] + Sigma0 + W[T - 16];
    }

    uint32_t A = State[0], B = State[1], C = State[2], D = State[3];
    uint32_t E = State[4], F = State[5], G = State[6], H = State[7];
    for (unsigned T = 0; T < 64; ++T) {
      uint32_t Sum1 = rotateRight(E, 6) ^ rotateRight(E, 11) ^ rotateRight(E, 25);
      uint32_t Choose = (E & F) ^ (~E & G);
      uint32_t T1 = H + Sum1 + Choose + RoundConstants[T] + W[T];
      uint32_t Sum0 = rotateRight(A, 2) ^ rotateRight(A, 13) ^ rotateRight(A, 22);
      uint32_t Majority = (A & B) ^ (A & C) ^ (B & C);
      uint32_t T2 = Sum0 + Majority;
      H = G;
      G = F;
      F = E;
      E = D + T1;
      D = C;
      C = B;
      B = A;
      A = T1 + T2;
    }
    State[0] += A;
    State[1] += B;
    State[2] += C;
    State[3] += D;
    State[4] += E;
    State[5] += F;
    State[6] += G;
    State[7] += H;
  }
}

#ifdef RYSC_SHA256_X86

/// The block function on the SHA extensions. SHA256RNDS2 keeps the working
/// variables as two vectors, {A, B, E, F} and {C, D, G, H} (highest lane
/// first), and runs two rounds per instruction; SHA256MSG1 and SHA256MSG2
/// compute the message schedule four words at a time.
__attribute__((target("sha,sse4.1,ssse3"))) void
shaExtensionBlocks(uint32_t *State, const uint8_t *Data, size_t Blocks) {
  // State contains A..H, which load as two vectors {D, C, B, A} and
  // {H, G, F, E}, and the shuffles regroup them.
  __m128i Low = _mm_loadu_si128(reinterpret_cast<const __m128i *>(State));
  __m128i High = _mm_loadu_si128(reinterpret_cast<const __m128i *>(State + 4));
  Low = _mm_shuffle_epi32(Low, 0xB1);   // {C, D, A, B}
  High = _mm_shuffle_epi32(High, 0x1B); // {E, F, G, H}
  __m128i Abef = _mm_alignr_epi8(Low, High, 8);
  __m128i Cdgh = _mm_blend_epi16(High, Low, 0xF0);

  // Message words are big-endian.
  const __m128i ByteSwap =
      _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);

  for (; Blocks > 0; --Blocks, Data += 64) {
    __m128i SavedAbef = Abef;
    __m128i SavedCdgh = Cdgh;

    // Words[J % 4] contains schedule words 4J .. 4J + 3.
    __m128i Words[4];
#pragma GCC unroll 16
    for (unsigned Group = 0; Group < 16; ++Group) {
      __m128i &Current = Words[Group % 4];
      if (Group < 4) {
        Current = _mm_shuffle_epi8(
            _mm_loadu_si128(reinterpret_cast<const __m128i *>(Data + 16 * Group)),
            ByteSwap);
      } else {
        // W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16]: MSG1 adds the
        // s0 terms to W[t-16], ALIGNR picks W[t-7], MSG2 adds the s1 terms.
        __m128i Previous = Words[(Group + 3) % 4];
        __m128i Sum = _mm_sha256msg1_epu32(Current, Words[(Group + 1) % 4]);
        Sum = _mm_add_epi32(Sum, _mm_alignr_epi8(Previous, Words[(Group + 2) % 4], 4));
        Current = _mm_sha256msg2_epu32(Sum, Previous);
      }

      __m128i Constants = _mm_load_si128(
          reinterpret_cast<const __m128i *>(RoundConstants + 4 * Group));
      __m128i Input = _mm_add_epi32(Current, Constants);
      // Two rounds make the old {A, B, E, F} the new {C, D, G, H}, so each
      // call writes its result over the vector that has just become stale.
      Cdgh = _mm_sha256rnds2_epu32(Cdgh, Abef, Input);
      Abef = _mm_sha256rnds2_epu32(Abef, Cdgh, _mm_shuffle_epi32(Input, 0x0E));
    }

    Abef = _mm_add_epi32(Abef, SavedAbef);
    Cdgh = _mm_add_epi32(Cdgh, SavedCdgh);
  }

  __m128i Feba = _mm_shuffle_epi32(Abef, 0x1B);
  __m128i Dchg = _mm_shuffle_epi32(Cdgh, 0xB1);
  _mm_storeu_si128(reinterpret_cast<__m128i *>(State),
                   _mm_blend_epi16(Feba, Dchg, 0xF0));
  _mm_storeu_si128(reinterpret_cast<__m128i *>(State + 4),
                   _mm_alignr_epi8(Dchg, Feba, 8));
}

/// True when CPUID reports SSSE3, SSE4.1 and the SHA extensions.
bool cpuHasShaExtensions() {
  unsigned Eax, Ebx, Ecx, Edx;
  if (!__get_cpuid(1, &Eax, &Ebx, &Ecx, &Edx))
    return false;
  bool Ssse3 = Ecx & (1u << 9);
  bool Sse41 = Ecx & (1u << 19);
  if (!__get_cpuid_count(7, 0, &Eax, &Ebx, &Ecx, &Edx))
    return false;
  bool Sha = Ebx & (1u << 29);
  return Ssse3 && Sse41 && Sha;
}

#else

bool cpuHasShaExtensions() { return false; }

#endif

std::atomic<bool> PortableForced{false};

BlockFunction selectBlockFunction() {
#ifdef RYSC_SHA256_X86
  static const bool HasSha = cpuHasShaExtensions();
  if (HasSha && !PortableForced.load())
    return shaExtensionBlocks;
#endif
  return portableBlocks;
}

} // namespace

Sha256::Sha256() : State(InitialState) {}

void Sha256::update(const void *Data, size_t Size) {
  auto *Bytes = static_cast<const uint8_t *>(Data);
  TotalSize += Size;
  BlockFunction Blocks = selectBlockFunction();

  if (PendingSize > 0) {
    size_t Take = std::min(Size, Pending.size() - PendingSize);
    std::memcpy(Pending.data() + PendingSize, Bytes, Take);
    PendingSize += Take;
    Bytes += Take;
    Size -= Take;
    if (PendingSize < Pending.size())
      return;
    Blocks(State.data(), Pending.data(), 1);
    PendingSize = 0;
  }

  size_t Whole = Size / 64;
  if (Whole > 0)
    Blocks(State.data(), Bytes, Whole);
  std::memcpy(Pending.data(), Bytes + Whole * 64, Size - Whole * 64);
  PendingSize = Size - Whole * 64;
}

Sha256::Digest Sha256::final() {
  // Padding (section 5.1.1): a one bit, zeros, then the message length in
  // bits as a 64-bit big-endian number, ending on a block boundary.
  uint64_t Bits = TotalSize * 8;
  uint8_t Padding[72] = {0x80};
  size_t PadSize = (PendingSize < 56 ? 56 : 120) - PendingSize;
  for (unsigned I = 0; I < 8; ++I)
    Padding[PadSize + I] = static_cast<uint8_t>(Bits >> (56 - 8 * I));
  update(Padding, PadSize + 8);

  Digest Result;
  for (unsigned I = 0; I < 8; ++I)
    for (unsigned Byte = 0; Byte < 4; ++Byte)
      Result[4 * I + Byte] = static_cast<uint8_t>(State[I] >> (24 - 8 * Byte));
  return Result;
}

std::string Sha256::toHex(const Digest &Value) {
  static constexpr char Digits[] = "0123456789abcdef";
  std::string Text;
  for (uint8_t Byte : Value) {
    Text += Digits[Byte >> 4];
    Text += Digits[Byte & 15];
  }
  return Text;
}

std::string Sha256::hex(llvm::StringRef Data) {
  Sha256 Hash;
  Hash.update(Data);
  return toHex(Hash.final());
}

bool Sha256::usesShaExtensions() {
  return selectBlockFunction() != portableBlocks;
}

void Sha256::forcePortable(bool Enable) { PortableForced.store(Enable); }

} // namespace rysc
