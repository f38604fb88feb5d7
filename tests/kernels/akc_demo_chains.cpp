// A small kernel written for akcuda's own tests (not an upstream kernel): every chain of `depth`
// positions inside a row along which the values rise, enumerated by a recursive helper that
// writes through per-column counters (`at[c]++`), a shared scratch path and output columns.
#include "awkward/kernels.h"

void akc_demo_chains_step(
  int64_t** out,
  int64_t* at,
  int64_t* path,
  const int64_t* values,
  int64_t level,
  int64_t stop,
  int64_t depth) {
  while (path[level] < stop) {
    if (level == 0 || values[path[level - 1]] < values[path[level]]) {
      if (level + 1 == depth) {
        for (int64_t c = 0;  c < depth;  c++) {
          out[c][at[c]] = path[c];
          at[c]++;
        }
      }
      else {
        path[level + 1] = path[level] + 1;
        akc_demo_chains_step(out, at, path, values, level + 1, stop, depth);
      }
    }
    path[level]++;
  }
}

ERROR akc_demo_chains(
  int64_t** out,
  int64_t* at,
  int64_t* path,
  const int64_t* values,
  const int64_t* starts,
  const int64_t* stops,
  int64_t depth,
  int64_t length) {
  for (int64_t c = 0;  c < depth;  c++) {
    at[c] = 0;
  }
  for (int64_t i = 0;  i < length;  i++) {
    path[0] = starts[i];
    akc_demo_chains_step(out, at, path, values, 0, stops[i], depth);
  }
  return success();
}
