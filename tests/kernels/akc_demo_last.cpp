// A small kernel written for akcuda's own tests (not an upstream kernel): the last row at least
// `limit` long, and whether any row holds `value` (locals the loop only ever assigns).
#include "awkward/kernels.h"

ERROR akc_demo_last(
  int64_t* __restrict__ tolast,
  bool* __restrict__ tofound,
  const int64_t* __restrict__ offsets,
  const int64_t* __restrict__ content,
  int64_t value,
  int64_t limit,
  int64_t length) {
  int64_t last = -1;
  bool found = false;
  int64_t item;
  for (int64_t i = 0;  i < length;  i++) {
    if (offsets[i + 1] - offsets[i] >= limit) {
      last = i;
    }
    for (int64_t j = offsets[i];  j < offsets[i + 1];  j++) {
      item = content[j];
      if (item == value) {
        found = true;
      }
    }
  }
  *tolast = last;
  *tofound = found;
  return success();
}
