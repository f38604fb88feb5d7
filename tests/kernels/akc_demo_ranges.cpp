// A small kernel written for akcuda's own tests (not an upstream kernel): each list writes its
// local index over its own range [starts[i], stops[i]) of the content.
#include "awkward/kernels.h"

ERROR akc_demo_ranges(
  int64_t* __restrict__ toindex,
  const int64_t* __restrict__ starts,
  const int64_t* __restrict__ stops,
  int64_t length) {
  for (int64_t i = 0;  i < length;  i++) {
    int64_t start = starts[i];
    int64_t stop = stops[i];
    for (int64_t j = start;  j < stop;  j++) {
      toindex[j] = j - start;
    }
  }
  return success();
}
