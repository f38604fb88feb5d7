// A small kernel written for akcuda's own tests (not an upstream kernel): per bin of `values`,
// how many are above `floor`, counted in three interleaved partial sums and a tail (a
// hand-unrolled integer sum: rolled back into one loop, then split where the bins are few).
#include "awkward/kernels.h"

template <typename T>
ERROR akc_demo_unrolled(
  int64_t* __restrict__ toabove,
  const T* __restrict__ values,
  const int64_t* __restrict__ offsets,
  T floor,
  int64_t bins) {
  for (int64_t bin = 0;  bin < bins;  bin++) {
    const int64_t stop = offsets[bin + 1];
    int64_t a0 = 0, a1 = 0, a2 = 0;
    int64_t i = offsets[bin];
    for (; i + 3 <= stop;  i += 3) {
      a0 += (values[i + 0] > floor);
      a1 += (values[i + 1] > floor);
      a2 += (values[i + 2] > floor);
    }
    int64_t above = a2 + (a0 + a1);
    for (; i < stop;  i++) {
      above += (values[i] > floor);
    }
    toabove[bin] = above;
  }
  return success();
}

#define WRAPPER(FUNC, T) \
  ERROR FUNC(int64_t* toabove, const T* values, const int64_t* offsets, T floor, int64_t bins) { \
    return akc_demo_unrolled<T>(toabove, values, offsets, floor, bins); \
  }

WRAPPER(akc_demo_unrolled_int64, int64_t)
WRAPPER(akc_demo_unrolled_float64, double)
