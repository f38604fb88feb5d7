// A small kernel written for akcuda's own tests (not an upstream kernel): per bin of `values`,
// the leftmost largest value from `floor`, whether any value is negative, how many are at least
// `floor`, and their sum (loops over bins folding each bin's range: pieces of a bin where the
// bins are few; the sum of T only where T is an integer).
#include "awkward/kernels.h"

template <typename T>
ERROR akc_demo_folds(
  T* __restrict__ tobest,
  bool* __restrict__ tonegative,
  int64_t* __restrict__ toatleast,
  T* __restrict__ tototal,
  const T* __restrict__ values,
  const int64_t* __restrict__ offsets,
  T floor,
  int64_t bins) {
  for (int64_t bin = 0;  bin < bins;  bin++) {
    const int64_t start = offsets[bin];
    const int64_t stop = offsets[bin + 1];
    T best = floor;
    for (int64_t i = start;  i < stop;  i++) {
      T v = values[i];
      best = (v > best) ? v : best;
    }
    tobest[bin] = best;
  }
  for (int64_t bin = 0;  bin < bins;  bin++) {
    bool negative = false;
    for (int64_t i = offsets[bin];  i < offsets[bin + 1];  i++) {
      if (values[i] < 0) { negative = true; break; }
    }
    tonegative[bin] = negative;
  }
  for (int64_t bin = 0;  bin < bins;  bin++) {
    int64_t atleast = 0;
    for (int64_t i = offsets[bin];  i < offsets[bin + 1];  i++) {
      if (values[i] >= floor) atleast++;
    }
    toatleast[bin] = atleast;
  }
  for (int64_t bin = 0;  bin < bins;  bin++) {
    T total = static_cast<T>(0);
    for (int64_t i = offsets[bin];  i < offsets[bin + 1];  i++) {
      total += values[i];
    }
    tototal[bin] = total;
  }
  return success();
}

#define WRAPPER(FUNC, T) \
  ERROR FUNC(T* tobest, bool* tonegative, int64_t* toatleast, T* tototal, const T* values, const int64_t* offsets, T floor, int64_t bins) { \
    return akc_demo_folds<T>(tobest, tonegative, toatleast, tototal, values, offsets, floor, bins); \
  }

WRAPPER(akc_demo_folds_int64, int64_t)
WRAPPER(akc_demo_folds_float64, double)
