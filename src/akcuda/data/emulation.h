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
inline long long atomicAdd(long long* address, long long value) {
  long long old = *address;
  *address = old + value;
  return old;
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
  for (int64_t flat : order) {
    blockIdx.x = flat / block;
    threadIdx.x = flat % block;
    thread();
  }
}
