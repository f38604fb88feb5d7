// A small kernel written for akcuda's own tests (not an upstream kernel): each row's running
// records (every element greater than the last one kept), compacted in place toward the front.
#include "awkward/kernels.h"

template <typename T>
ERROR akc_demo_compact(
  T* __restrict__ toptr,
  const int64_t* __restrict__ fromstarts,
  const int64_t* __restrict__ fromstops,
  int64_t length,
  int64_t* __restrict__ tooffsets) {
  int64_t m = 0;
  for (int64_t i = 0;  i < length;  i++) {
    tooffsets[i] = m;
    toptr[m++] = toptr[fromstarts[i]];
    for (int64_t k = fromstarts[i] + 1;  k < fromstops[i];  k++) {
      if (toptr[k] > toptr[m - 1]) {
        toptr[m++] = toptr[k];
      }
    }
  }
  tooffsets[length] = m;
  return success();
}

#define WRAPPER(FUNC, T) \
  ERROR FUNC(T* toptr, const int64_t* fromstarts, const int64_t* fromstops, int64_t length, int64_t* tooffsets) { \
    return akc_demo_compact<T>(toptr, fromstarts, fromstops, length, tooffsets); \
  }

WRAPPER(akc_demo_compact_int64, int64_t)
WRAPPER(akc_demo_compact_float64, double)
