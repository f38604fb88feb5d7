// A small kernel written for akcuda's own tests (not an upstream kernel): each row writes its
// own segment [offsets[row], offsets[row + 1]) of the output.
#include "awkward/kernels.h"

ERROR akc_demo_segments(
  int64_t* __restrict__ torow,
  const int64_t* __restrict__ offsets,
  int64_t length) {
  for (int64_t row = 0;  row < length;  row++) {
    for (int64_t i = offsets[row];  i < offsets[row + 1];  i++) {
      torow[i] = row;
    }
  }
  return success();
}
