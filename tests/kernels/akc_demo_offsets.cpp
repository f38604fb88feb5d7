// A small kernel family written for akcuda's own tests (not an upstream kernel).
#define FILENAME(line) FILENAME_FOR_EXCEPTIONS_C("tests/kernels/akc_demo_offsets.cpp", line)

#include "awkward/kernels.h"

template <typename C, typename T>
ERROR akc_demo_offsets(
  T* __restrict__ tolengths,
  T* __restrict__ tooffsets,
  const C* __restrict__ fromstarts,
  const C* __restrict__ fromstops,
  int64_t length) {
  // independent: one thread per row
  for (int64_t i = 0;  i < length;  i++) {
    if (fromstops[i] < fromstarts[i]) {
      return failure("row stops before it starts", i, fromstarts[i], FILENAME(__LINE__));
    }
    tolengths[i] = static_cast<T>(fromstops[i] - fromstarts[i]);
  }
  // carried: a running sum
  tooffsets[0] = T{};
  for (int64_t i = 0;  i < length;  i++) {
    tooffsets[i + 1] = tooffsets[i] + tolengths[i];
  }
  return success();
}

#define WRAPPER(FUNC, C, T) \
  ERROR FUNC(T* tolengths, T* tooffsets, const C* fromstarts, const C* fromstops, int64_t length) { \
    return akc_demo_offsets<C, T>(tolengths, tooffsets, fromstarts, fromstops, length); \
  }

WRAPPER(akc_demo32_offsets_64, int32_t, int64_t)
WRAPPER(akc_demoU32_offsets_64, uint32_t, int64_t)
