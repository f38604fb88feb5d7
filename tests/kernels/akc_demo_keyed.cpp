// A small kernel written for akcuda's own tests (not an upstream kernel): each item's position
// among the items of its tag (a count per tag), offsets of the positive sizes (a running sum
// stored at a counter), and the gaps between offsets (a value handed on to the next item).
#include "awkward/kernels.h"

ERROR akc_demo_keyed(
  int64_t* __restrict__ toindex,
  int32_t* __restrict__ current,
  int64_t* __restrict__ tooffsets,
  int64_t* __restrict__ togaps,
  const int8_t* __restrict__ fromtags,
  const int64_t* __restrict__ sizes,
  int64_t numtags,
  int64_t length) {
  for (int64_t t = 0;  t < numtags;  t++) {
    current[t] = 0;
  }
  for (int64_t i = 0;  i < length;  i++) {
    int8_t tag = fromtags[i];
    toindex[i] = current[tag];
    current[tag]++;
  }
  tooffsets[0] = 0;
  int64_t k = 1;
  for (int64_t i = 0;  i < length;  i++) {
    if (sizes[i] > 0) {
      tooffsets[k] = tooffsets[k - 1] + sizes[i];
      k++;
    }
  }
  int64_t previous = 0;
  for (int64_t i = 0;  i < length;  i++) {
    togaps[i] = sizes[i] - previous;
    previous = sizes[i];
  }
  return success();
}
