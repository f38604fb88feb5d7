// A small kernel written for akcuda's own tests (not an upstream kernel): three ways of naming a
// row's own range of positions, which run in parallel when the rows do not overlap.
#include "awkward/kernels.h"

ERROR akc_demo_rows(
  int64_t* __restrict__ byoffset,
  int64_t* __restrict__ bycount,
  int64_t* __restrict__ byshift,
  int64_t* __restrict__ cursor,
  const int64_t* __restrict__ offsets,
  const int64_t* __restrict__ counts,
  int64_t limit,
  int64_t length) {
  for (int64_t i = 0;  i < length;  i++) {
    int64_t size = offsets[i + 1] - offsets[i];
    for (int64_t j = 0;  j < size;  j++) {
      byoffset[offsets[i] + j] = i;
    }
  }
  for (int64_t i = 0;  i < length;  i++) {
    int64_t start = cursor[i];
    int64_t stop = start + counts[i];
    for (int64_t j = start;  j < stop;  j++) {
      bycount[j] = j - start;
    }
    cursor[i] = stop;
  }
  int64_t first = offsets[0];
  for (int64_t i = 0;  i < length;  i++) {
    for (int64_t j = offsets[i] - first;  j < offsets[i + 1] - first && j < limit;  j++) {
      byshift[j] = i;
    }
  }
  return success();
}
