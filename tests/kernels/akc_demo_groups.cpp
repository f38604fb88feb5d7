// A small kernel written for akcuda's own tests (not an upstream kernel): cut the items into
// groups of `length / parts` starting at `first`, record where each group starts and the last
// nonzero item of each (a loop opening a group at each term of an arithmetic progression, inside
// a branch whose arm declares the locals it needs).
#include "awkward/kernels.h"

ERROR akc_demo_groups(
  int64_t* __restrict__ tostarts,
  int64_t* __restrict__ tolast,
  const int64_t* __restrict__ values,
  int64_t length,
  int64_t first,
  int64_t parts) {
  if (length > 0 && parts != 0) {
    int64_t width = length / parts;
    int64_t k = 1;
    int64_t next = first;
    for (int64_t i = 0;  i < length;  i++) {
      if (i == next) {
        next += width;
        tostarts[k] = i;
        tolast[k] = -1;
        k++;
      }
      if (values[i] != 0) {
        tolast[k - 1] = i;
      }
    }
  }
  else {
    for (int64_t k = 0;  k < 2;  k++) {
      tostarts[k] = -1;
    }
  }
  return success();
}
