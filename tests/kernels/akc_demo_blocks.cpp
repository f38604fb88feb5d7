// A small kernel written for akcuda's own tests (not an upstream kernel): each list's values
// are copied as one block into a row of `width` slots, and the row's remaining slots set to -1
// bytes (memcpy and memset, which a row may only do inside its own slots).
#include "awkward/kernels.h"

ERROR akc_demo_blocks(
  int32_t* __restrict__ torows,
  const int32_t* __restrict__ values,
  const int64_t* __restrict__ offsets,
  int64_t width,
  int64_t length) {
  for (int64_t i = 0;  i < length;  i++) {
    int64_t size = offsets[i + 1] - offsets[i];
    int64_t row = i * width;
    std::memcpy(&torows[row], &values[offsets[i]], size * sizeof(int32_t));
    if (size < width) {
      std::memset(&torows[row + size], 255, (width - size) * sizeof(int32_t));
    }
  }
  return success();
}
