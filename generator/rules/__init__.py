"""The loop rules, in the order the planner (generator/planner.py) tries them on each top-level
loop; the first that takes the loop makes its step. A rule is one module with one function,

    match(site: Site, ctx: Analysis) -> Planned | Refusal

which takes the loop (`site.loop`, after the loop rewrites, or `site.written`, as the C has it)
and returns the plan step it makes with the C that step runs, or says why not. Its docstring
has the loop shape it takes, before and after, and the demo kernel that shows it
(tests/kernels/). Each line below says why the rule stands where it does: the general rule
first (its forms are the cheapest), a rule that widens it before it, and after it the rules for
shapes it refuses, cheapest plan first.
"""

from __future__ import annotations

from akcuda.generator.rules import columns, compaction, groups, pairs, peeled, per_iteration, private_rows, stride

RULES = (
    (pairs, "first: one thread per (bin, column) pair is wider than the general rule's one per bin"),
    (per_iteration, "the general rule: one thread per iteration, parallel or count-scan-fill"),
    (peeled, "a place only the first iteration sets: the general rule on the other iterations"),
    (groups, "iterations grouped by a progression: the general rule on the loop over groups"),
    (stride, "a loop stepping by a constant, which the general rule refuses: the general rule on its steps"),
    (private_rows, "a helper writing counters and scratch, which the general rule refuses: private copies"),
    (compaction, "an array compacted in place, which the general rule refuses: verified, one read-back"),
    (columns, "last: a histogram reset per bin, one thread per bin and column, rows checked first"),
)
GENERAL = per_iteration  # its refusal is why a loop no rule takes runs in C order
