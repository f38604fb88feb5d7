"""The rewrites, one ordered list per level, each entry with why it stands there; the planner
(generator/planner.py) applies them in this order, in one place. A rewrite returns a new tree
(what it was given stays what a serial step runs), or None where it does not apply.

- FUNCTION, on the whole body before anything else: `rewrite(func, signature) -> FuncDef | None`,
  each in turn on what the one before left;
- LOOP, on each top-level loop before the rules: `rewrite(loop, ctx, live_after) -> For | None`,
  each in turn on what the one before left;
- AFTER_MATCH, on the step a rule made: `rewrite(found, ctx) -> list[Planned] | None`, the first
  that applies.

A rule may also rewrite the loop it takes (a loop over pairs, groups, a peeled first iteration,
"last kept" state): that rewrite is the rule's own and lives in, or beside, its module.
"""

from __future__ import annotations

from akcuda.generator.rewrites import best_index, branch_locals, carried, pieces, run_cursors, unrolled

FUNCTION = (
    (unrolled.rerolled_sums, "a hand-unrolled integer sum as one loop, whose fold the split folds then take"),
    (branch_locals.hoisted_branch_locals, "a branch's locals lifted, so the branch picks its steps on the host"),
    (run_cursors.inverted_runs, "after the lifts: a cursor skipping runs, over top-level locals, as owners counted"),
)
LOOP = (
    (carried.forwarded_stores, "a value stored and read back within an iteration read from its local"),
    (carried.previous_values, "then a local handed to the next iteration read as the previous one's value"),
)
AFTER_MATCH = (
    (pieces.split, "a parallel per-bin fold in pieces where the bins are few"),
    (best_index.split, "the same for a per-bin best index seeded with the bin's first element"),
)
