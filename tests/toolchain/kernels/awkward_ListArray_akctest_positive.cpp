// akcuda's own test kernel, written in awkward-cpp's style (not upstream code): the positions of
// the positive content values of every list, in order, and how many there are.

#define FILENAME(line) FILENAME_FOR_EXCEPTIONS_C("src/cpu-kernels/awkward_ListArray_akctest_positive.cpp", line)

#include "awkward/kernels.h"

template <typename C, typename T>
ERROR awkward_ListArray_akctest_positive(
  T* tocarry,
  int64_t* tolength,
  const C* fromstarts,
  const C* fromstops,
  const int64_t* content,
  int64_t length,
  int64_t contentlength) {
  int64_t k = 0;
  for (int64_t i = 0;  i < length;  i++) {
    C start = fromstarts[i];
    C stop = fromstops[i];
    if (stop < start) {
      return failure("stops[i] < starts[i]", i, kSliceNone, FILENAME(__LINE__));
    }
    if (stop > contentlength) {
      return failure("stops[i] > len(content)", i, kSliceNone, FILENAME(__LINE__));
    }
    for (int64_t j = start;  j < stop;  j++) {
      if (content[j] > 0) {
        tocarry[k] = (T)j;
        k++;
      }
    }
  }
  *tolength = k;
  return success();
}

#define WRAPPER(FUNC, C, T) \
  ERROR FUNC(T* tocarry, int64_t* tolength, const C* fromstarts, const C* fromstops, const int64_t* content, int64_t length, int64_t contentlength) { \
    return awkward_ListArray_akctest_positive<C, T>(tocarry, tolength, fromstarts, fromstops, content, length, contentlength); \
  }

WRAPPER(awkward_ListArray32_akctest_positive_64, int32_t, int64_t)
WRAPPER(awkward_ListArrayU32_akctest_positive_64, uint32_t, int64_t)
WRAPPER(awkward_ListArray64_akctest_positive_64, int64_t, int64_t)
