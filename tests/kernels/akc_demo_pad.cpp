// A small kernel written for akcuda's own tests (not an upstream kernel): clip or pad each row
// of a regular array to `target` entries, and mark the missing entries of an index in place.
#include "awkward/kernels.h"

ERROR akc_demo_pad(
  int64_t* __restrict__ toindex,
  int64_t* __restrict__ marks,
  int64_t target,
  int64_t size,
  int64_t length) {
  int64_t shorter = (target < size ? target : size);
  for (int64_t i = 0;  i < length;  i++) {
    for (int64_t j = 0;  j < shorter;  j++) {
      toindex[i*target + j] = i*size + j;
    }
    for (int64_t j = shorter;  j < target;  j++) {
      toindex[i*target + j] = -1;
    }
  }
  int64_t missing = 0;
  for (int64_t i = 0;  i < length;  i++) {
    if (marks[i] < 0) {
      marks[i] = missing;
      missing++;
    }
  }
  return success();
}
