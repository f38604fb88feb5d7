// A small kernel written for akcuda's own tests (not an upstream kernel): pad each list to at
// least `target` entries (the position advances by the larger of the two, read back through
// memory), then shift each list's entries of `shifted` in place by its base.
#include "awkward/kernels.h"

ERROR akc_demo_padrows(
  int64_t* __restrict__ toindex,
  int32_t* __restrict__ tostarts,
  int64_t* __restrict__ shifted,
  const int64_t* __restrict__ starts,
  const int64_t* __restrict__ stops,
  const int64_t* __restrict__ bases,
  int64_t target,
  int64_t length) {
  int64_t offset = 0;
  for (int64_t i = 0;  i < length;  i++) {
    tostarts[i] = offset;
    int64_t size = stops[i] - starts[i];
    for (int64_t j = 0;  j < size;  j++) {
      toindex[offset + j] = starts[i] + j;
    }
    for (int64_t j = size;  j < target;  j++) {
      toindex[offset + j] = -1;
    }
    offset = (target > size) ? tostarts[i] + target : tostarts[i] + size;
  }
  int64_t k = 0;
  for (int64_t i = 0;  i < length;  i++) {
    int64_t count = stops[i] - starts[i];
    for (int64_t j = 0;  j < count;  j++) {
      shifted[k] = shifted[k] + bases[i];
      k++;
    }
  }
  return success();
}
