// A small kernel written for akcuda's own tests (not an upstream kernel): per bin of `values`,
// one past the index of the largest `values[i] - shift`, seeded with the bin's first element,
// 0 for an empty bin (a loop over bins finding each bin's best index: pieces where the bins are few).
#include "awkward/kernels.h"

template <typename T>
ERROR akc_demo_best(
  int64_t* __restrict__ toafter,
  const T* __restrict__ values,
  const int64_t* __restrict__ offsets,
  T shift,
  int64_t bins) {
  for (int64_t bin = 0;  bin < bins;  bin++) {
    const int64_t lo = offsets[bin];
    const int64_t hi = offsets[bin + 1];
    int64_t best = -1;
    if (lo < hi) {
      best = lo;
      T top = values[lo] - shift;
      for (int64_t i = lo + 1;  i < hi;  i++) {
        T v = values[i] - shift;
        if (top < v) {
          best = i;
          top = v;
        }
      }
    }
    toafter[bin] = best + 1;
  }
  return success();
}

#define WRAPPER(FUNC, T) \
  ERROR FUNC(int64_t* toafter, const T* values, const int64_t* offsets, T shift, int64_t bins) { \
    return akc_demo_best<T>(toafter, values, offsets, shift, bins); \
  }

WRAPPER(akc_demo_best_int64, int64_t)
WRAPPER(akc_demo_best_float64, double)
