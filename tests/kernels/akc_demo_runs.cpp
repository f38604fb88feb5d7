// A small kernel written for akcuda's own tests (not an upstream kernel): the items from `first`
// on form runs (an item joins the run of the one before it while their keys differ by less than
// `gap`); give run g's items the label `labels[g] + position` and the owner g (a cursor that an
// inner loop advances over a run, its trip count fixed when it starts but its test reading the
// cursor).
#include "awkward/kernels.h"

ERROR akc_demo_runs(
  int64_t* __restrict__ tolabels,
  int64_t* __restrict__ toowner,
  const int64_t* __restrict__ keys,
  const int64_t* __restrict__ labels,
  int64_t groups,
  int64_t length,
  int64_t first,
  int64_t gap) {
  int64_t j = first;
  for (int64_t g = 0;  g < groups;  g++) {
    tolabels[j] = labels[g] + j;
    toowner[j] = g;
    for (int64_t k = j;  k < length - 1;  k++) {
      if (keys[j + 1] - keys[j] < gap) {
        tolabels[j + 1] = labels[g] + (j + 1);
        toowner[j + 1] = g;
        j++;
      }
    }
    j++;
  }
  return success();
}
