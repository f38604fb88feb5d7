// A small kernel written for akcuda's own tests (not an upstream kernel): for each group of rows
// and each column up to `width`, the elements of the group's rows at that column, group by
// group and column by column, and where each (group, column) run ends (a loop over groups
// whose body is a loop over columns: one thread per pair).
#include "awkward/kernels.h"

ERROR akc_demo_pairs(
  int64_t* __restrict__ tocarry,
  int64_t* __restrict__ toends,
  const int64_t* __restrict__ offsets,
  const int64_t* __restrict__ groups,
  int64_t width,
  int64_t numgroups) {
  int64_t k = 0;
  for (int64_t g = 0;  g < numgroups;  g++) {
    int64_t first = groups[g];
    int64_t last = groups[g + 1];
    int64_t base = g * width;
    for (int64_t c = 0;  c < width;  c++) {
      for (int64_t row = first;  row < last;  row++) {
        if (c < offsets[row + 1] - offsets[row]) {
          tocarry[k] = offsets[row] + c;
          k++;
        }
      }
      toends[base + c] = k;
    }
  }
  return success();
}
