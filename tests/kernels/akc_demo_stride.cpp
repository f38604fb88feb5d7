// A small kernel written for akcuda's own tests (not an upstream kernel): complex numbers stored
// as (real, imaginary) pairs, and each one's conjugate, in a loop stepping two places at a time
// (one thread per step: generator/rules/stride.py).
#include "awkward/kernels.h"

ERROR akc_demo_stride(
  double* __restrict__ toptr,
  const double* __restrict__ fromptr,
  int64_t length) {
  for (int64_t i = 0;  i < 2 * length;  i += 2) {
    toptr[i] = fromptr[i];
    toptr[i + 1] = -fromptr[i + 1];
  }
  return success();
}
