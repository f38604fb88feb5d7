// A small kernel written for akcuda's own tests (not an upstream kernel): the order of the items
// by descending score, equal scores in input order (a stable sort of indices with a lambda
// comparator over a scratch vector), for the sort rule (generator/sorts.py).
#include "awkward/kernels.h"

#include <algorithm>
#include <numeric>
#include <vector>

ERROR akc_demo_rank(
  int64_t* __restrict__ toorder,
  const int32_t* __restrict__ scores,
  int64_t length) {
  std::vector<int64_t> order(length);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
    [&scores](int64_t a, int64_t b) {
      return scores[a] > scores[b];
    });
  for (int64_t i = 0;  i < length;  i++) {
    toorder[i] = order[i];
  }
  return success();
}
