// akcuda host emulation: compile generated CUDA with g++ and run its grid on the CPU.
// Blocks and threads run one at a time in a seeded shuffled order, so a kernel that depends on
// execution order fails parity. Generated kernels use no shared memory or __syncthreads.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <unordered_map>
#include <vector>

#define AKCUDA_HOST 1
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline

struct akc_dim3 { int64_t x = 0, y = 0, z = 0; };
static thread_local akc_dim3 blockIdx, threadIdx, blockDim, gridDim;

inline long long atomicMin(long long* address, long long value) {
  long long old = *address;
  if (value < old) *address = value;
  return old;
}
inline unsigned long long atomicCAS(unsigned long long* address, unsigned long long compare,
                                    unsigned long long value) {
  unsigned long long old = *address;
  if (old == compare) *address = value;
  return old;
}
inline long long atomicAdd(long long* address, long long value) {
  long long old = *address;
  *address = old + value;
  return old;
}

// Race check: every store to memory goes through AKC_STORE, which records which emulated thread
// wrote each address during a launch; a second thread writing the same address is a race
// (generated kernels update shared memory only through atomics, which are not recorded).
// The state is per host thread: a launch runs its whole grid in the thread that called it, and
// several threads may run launches at once (ctypes releases the GIL).
struct akc_race_state {
  std::unordered_map<const void*, int64_t> writer;
  int64_t thread = 0, races = 0, first_thread = -1, second_thread = -1;
  const void* first_address = nullptr;
  const char* stack_top = nullptr;  // locals of the emulated thread live below this
  bool enabled = false;
};
static thread_local akc_race_state akc_race;

template <typename T>
inline T& akc_record(T& place) {
  char probe;
  const char* where = (const char*)&place;
  // Emulated threads run one after another on one host stack, so their private locals share
  // addresses: a store through a pointer to a local is private, not a race.
  bool on_stack = where >= &probe && where < akc_race.stack_top;
  if (akc_race.enabled && !on_stack) {
    auto found = akc_race.writer.emplace((const void*)&place, akc_race.thread);
    if (!found.second && found.first->second != akc_race.thread && akc_race.races++ == 0) {
      akc_race.first_address = (const void*)&place;
      akc_race.first_thread = found.first->second;
      akc_race.second_thread = akc_race.thread;
    }
  }
  return place;
}
#define AKC_STORE(place) akc_record(place)

// [races, address, first thread, second thread] of this thread's last launch
extern "C" void akc_race_report(int64_t* out) {
  out[0] = akc_race.races;
  out[1] = (int64_t)(intptr_t)akc_race.first_address;
  out[2] = akc_race.first_thread;
  out[3] = akc_race.second_thread;
}

using std::isnan;
using std::pow;

template <typename F>
void akc_run_grid(int64_t grid, int64_t block, uint64_t seed, F&& thread) {
  std::vector<int64_t> order((size_t)(grid * block));
  for (size_t k = 0; k < order.size(); k++) order[k] = (int64_t)k;
  if (seed != 0) {
    std::mt19937_64 rng(seed);
    std::shuffle(order.begin(), order.end(), rng);
  }
  gridDim.x = grid;
  blockDim.x = block;
  akc_race.writer.clear();
  akc_race.races = 0;
  akc_race.enabled = order.size() > 1;
  akc_race.stack_top = (const char*)__builtin_frame_address(0);
  for (int64_t flat : order) {
    blockIdx.x = flat / block;
    threadIdx.x = flat % block;
    akc_race.thread = flat;
    thread();
  }
}
