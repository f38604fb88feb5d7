// A small kernel written for akcuda's own tests (not an upstream kernel): a 2-D fill with an
// inner loop over a regular size, and a helper that returns through a pointer.
#define FILENAME(line) FILENAME_FOR_EXCEPTIONS_C("tests/kernels/akc_demo_regular.cpp", line)

#include "awkward/kernels.h"

static void akc_demo_clamp(int64_t* value, int64_t limit) {
  if (*value > limit) *value = limit;
}

ERROR akc_demo_regular(
  int64_t* __restrict__ tocarry,
  int64_t size,
  int64_t length,
  int64_t limit) {
  for (int64_t i = 0;  i < length;  i++) {
    for (int64_t j = 0;  j < size;  j++) {
      int64_t v = i * size + j;
      akc_demo_clamp(&v, limit);
      tocarry[i * size + j] = v;
    }
  }
  int64_t k = 0;
  while (k < 0) {
    k++;
  }
  return success();
}
