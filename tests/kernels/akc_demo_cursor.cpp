// A small kernel written for akcuda's own tests (not an upstream kernel): count the tokens of
// each row of a byte stream, where a token's first byte gives its width (1 + its low two bits);
// one cursor walks the whole stream, so a token that crosses a row's end shifts the next rows.
#include "awkward/kernels.h"

ERROR akc_demo_cursor(
  int64_t* __restrict__ tocounts,
  const uint8_t* __restrict__ bytes,
  const int64_t* __restrict__ offsets,
  int64_t length) {
  int64_t cursor = offsets[0];
  for (int64_t i = 0;  i < length;  i++) {
    int64_t size = offsets[i + 1] - offsets[i];
    int64_t tokens = 0;
    for (int64_t last = cursor + size;  cursor < last;) {
      cursor += 1 + (bytes[cursor] & 3);
      tokens++;
    }
    tocounts[i] = tokens;
  }
  return success();
}
