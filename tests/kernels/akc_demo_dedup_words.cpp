// A small kernel written for akcuda's own tests (not an upstream kernel): words (ranges of
// `fromoffsets`) compacted in place toward the front, each dropped when it equals the last word
// kept (same length, same elements), with the kept words' lengths and their number.
#include "awkward/kernels.h"

template <typename T>
ERROR akc_demo_dedup_words(
  T* __restrict__ words,
  const int64_t* __restrict__ fromoffsets,
  int64_t length,
  int64_t* __restrict__ tolengths,
  int64_t* __restrict__ tokept) {
  int64_t keptat = 0;
  int64_t keptlen = 0;
  int64_t m = 0;
  int64_t kept = 0;
  bool same = false;
  for (int64_t i = 0;  i < length;  i++) {
    int64_t len = fromoffsets[i + 1] - fromoffsets[i];
    same = len == keptlen;
    for (int64_t k = 0;  same && k < keptlen;  k++) {
      if (words[keptat + k] != words[fromoffsets[i] + k]) {
        same = false;
      }
    }
    if (!same) {
      keptat = m;
      for (int64_t j = fromoffsets[i];  j < fromoffsets[i + 1];  j++) {
        words[m++] = words[j];
      }
      keptlen = len;
      tolengths[kept++] = len;
    }
  }
  *tokept = kept;
  return success();
}

#define WRAPPER(FUNC, T) \
  ERROR FUNC(T* words, const int64_t* fromoffsets, int64_t length, int64_t* tolengths, int64_t* tokept) { \
    return akc_demo_dedup_words<T>(words, fromoffsets, length, tolengths, tokept); \
  }

WRAPPER(akc_demo_dedup_words_int64, int64_t)
WRAPPER(akc_demo_dedup_words_float64, double)
