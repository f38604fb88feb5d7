// A small kernel written for akcuda's own tests (not an upstream kernel): per bin of rows, a
// histogram reset to one that each row updates column by column (its own columns take its
// weight, the columns past its end double), each element of the row recording its column's
// value before the update (a scratch histogram shared by the bins, each column on its own).
#include "awkward/kernels.h"

ERROR akc_demo_columns(
  int64_t* __restrict__ hist,
  int64_t* __restrict__ out,
  const int64_t* __restrict__ offsets,
  const int64_t* __restrict__ bins,
  const int64_t* __restrict__ weights,
  int64_t nbins,
  int64_t width) {
  for (int64_t b = 0;  b < nbins;  b++) {
    for (int64_t k = 0;  k < width;  k++) {
      hist[k] = 1;
    }
    int64_t first = bins[b];
    int64_t last = bins[b + 1];
    for (int64_t r = first;  r < last;  r++) {
      int64_t begin = offsets[r];
      int64_t end = offsets[r + 1];
      int64_t size = end - begin;
      int64_t w = weights[r];
      for (int64_t j = 0;  j < size;  j++) {
        out[begin + j] = hist[j] * 3 + w;
        hist[j] += w;
      }
      for (int64_t k = size;  k < width;  k++) {
        hist[k] = (hist[k] * 2) % 1000003;
      }
    }
  }
  return success();
}
