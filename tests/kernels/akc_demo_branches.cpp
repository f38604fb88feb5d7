// A small kernel written for akcuda's own tests (not an upstream kernel): loops chosen by a
// flag, a maximum kept in memory, and a running total kept through a pointer.
#include "awkward/kernels.h"

ERROR akc_demo_branches(
  int64_t* __restrict__ out,
  int64_t* __restrict__ longest,
  int64_t* __restrict__ total,
  const int64_t* __restrict__ offsets,
  int64_t length,
  bool reverse) {
  if (reverse) {
    for (int64_t i = 0;  i < length;  i++) {
      out[i] = offsets[length - i] - offsets[length - i - 1];
    }
  }
  else {
    for (int64_t i = 0;  i < length;  i++) {
      out[i] = offsets[i + 1] - offsets[i];
    }
  }
  *longest = 0;
  *total = 0;
  for (int64_t i = 0;  i < length;  i++) {
    int64_t count = offsets[i + 1] - offsets[i];
    if (*longest < count) {
      *longest = count;
    }
    *total = *total + count;
  }
  return success();
}
