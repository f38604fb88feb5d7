// A small kernel written for akcuda's own tests (not an upstream kernel): each row writes one
// place more than its counter advances, so a row's last write lands on the next row's first.
#include "awkward/kernels.h"

ERROR akc_demo_overrun(
  int64_t* __restrict__ out,
  const int64_t* __restrict__ sizes,
  int64_t length) {
  int64_t k = 0;
  for (int64_t i = 0;  i < length;  i++) {
    for (int64_t j = 0;  j < sizes[i] + 1;  j++) {
      out[k + j] = i;
    }
    k += sizes[i];
  }
  return success();
}
