"""Rule: one thread per iteration of the loop as it stands (after the loop rewrites). The
general rule: a *parallel* step where the iterations share nothing, a *count-scan-fill* step
where all they share is counters (analysis/iterations.py says how it decides). Its refusal is
the reason a loop no rule takes runs in C order.

    for (i = 0; i < n; i++) out[i] = 2 * in[i];          ->  parallel: i = akc_tid; out[i] = 2 * in[i];
    for (i = 0; i < n; i++) if (mask[i]) out[k++] = i;   ->  count: k's advance per iteration;
                                                             scan; fill: k = its start; out[k++] = i;

Demo: tests/kernels/akc_demo_offsets.cpp (a parallel loop, then a running sum).
"""

from __future__ import annotations

from akcuda.generator.analysis.context import Analysis, Planned, Refusal, Site
from akcuda.generator.analysis.iterations import loop_step


def match(site: Site, ctx: Analysis) -> Planned | Refusal:
    return loop_step(site.loop, ctx, site.live_after)
