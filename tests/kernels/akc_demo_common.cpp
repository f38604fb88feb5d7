// A small kernel written for akcuda's own tests (not an upstream kernel): the one value (mod 100)
// every item shares, kept in `common` once the first item set it (-1 until then).
#include "awkward/kernels.h"

ERROR akc_demo_common(
  int64_t* __restrict__ common,
  const int64_t* __restrict__ values,
  int64_t length) {
  *common = -1;
  for (int64_t i = 0;  i < length;  i++) {
    int64_t value = values[i] % 100;
    if (*common == -1) {
      *common = value;
    }
    else if (*common != value) {
      return failure("items differ", i, value, FILENAME(__LINE__));
    }
  }
  return success();
}
