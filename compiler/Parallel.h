// Runs independent work items on several threads.
#ifndef RYSC_COMPILER_PARALLEL_H
#define RYSC_COMPILER_PARALLEL_H

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

namespace rysc {

/// Calls \p Work(Index) for every Index in [0, Count) on up to \p Threads
/// threads (0 means the core count). Items are taken in order as threads
/// become free; the call returns when all are done.
template <typename WorkFn> void parallelFor(size_t Count, unsigned Threads, WorkFn Work) {
  if (Threads == 0)
    Threads = std::max(1u, std::thread::hardware_concurrency());
  Threads = static_cast<unsigned>(std::min<size_t>(Threads, std::max<size_t>(Count, 1)));

  std::atomic<size_t> Next{0};
  auto Run = [&]() {
    for (size_t Index = Next++; Index < Count; Index = Next++)
      Work(Index);
  };
  std::vector<std::thread> Pool;
  for (unsigned Thread = 1; Thread < Threads; ++Thread)
    Pool.emplace_back(Run);
  Run();
  for (std::thread &T : Pool)
    T.join();
}

} // namespace rysc

#endif // RYSC_COMPILER_PARALLEL_H
