"""Awkward-level physics workloads on synthetic collision events, for `akcuda bench`.

Each event has jets (pt, eta, phi, mass) and muons (pt, eta, phi, charge), their numbers drawn
per event. The workloads: a MET histogram (from the jets' vector sum), jet selections, opposite-
charge muon pairs with their invariant masses (`ak.combinations`), the trijet whose mass is
closest to the top mass, muon-jet isolation by delta-R (`ak.cartesian`), and ragged
`argmin`/`argmax`. Each runs in the configurations a target allows — on a GPU
`install(target="cuda")`, Awkward's own cuda backend and the plain CPU; in the CPU smoke run
`install(target="host")` and the plain CPU — and every configuration's result is checked
against the plain CPU's.
"""

from __future__ import annotations

from collections.abc import Callable

import awkward as ak
import numpy as np

from akcuda.runtime import awkward_plugin
from akcuda.validation import timing

TOP_MASS = 172.5
MET_BINS = 50


def synthetic_events(n: int, seed: int = 1) -> ak.Array:
    """n events on the CPU: about 4 jets and 1.5 muons each."""
    rng = np.random.default_rng(seed)
    jets_per, muons_per = rng.poisson(4.0, n), rng.poisson(1.5, n)
    jets, muons = int(jets_per.sum()), int(muons_per.sum())
    jet = ak.zip(
        {
            "pt": 20 + rng.exponential(30.0, jets),
            "eta": rng.normal(0.0, 1.6, jets),
            "phi": rng.uniform(-np.pi, np.pi, jets),
            "mass": rng.uniform(2.0, 20.0, jets),
        }
    )
    muon = ak.zip(
        {
            "pt": 5 + rng.exponential(20.0, muons),
            "eta": rng.normal(0.0, 1.2, muons),
            "phi": rng.uniform(-np.pi, np.pi, muons),
            "charge": rng.choice(np.array([-1, 1], dtype=np.int8), muons),
        }
    )
    return ak.zip({"jets": ak.unflatten(jet, jets_per), "muons": ak.unflatten(muon, muons_per)}, depth_limit=1)


def met_histogram(events: ak.Array):
    """Missing transverse momentum from the jets' vector sum, histogrammed in 10 GeV bins."""
    jets = events.jets
    px, py = ak.sum(jets.pt * np.cos(jets.phi), axis=1), ak.sum(jets.pt * np.sin(jets.phi), axis=1)
    met = np.sqrt(px**2 + py**2)
    bins = ak.values_astype(np.minimum(met // 10, MET_BINS - 1), np.int64)
    return met, ak.run_lengths(ak.sort(bins))


def jet_selection(events: ak.Array):
    """Central jets above 30 GeV: how many per event, their scalar sum, events with two or more."""
    jets = events.jets
    good = jets[(jets.pt > 30) & (abs(jets.eta) < 2.4)]
    return ak.num(good, axis=1), ak.sum(good.pt, axis=1), good[ak.num(good, axis=1) >= 2].pt


def dimuon_masses(events: ak.Array):
    """Opposite-charge muon pairs and their invariant masses."""
    pairs = ak.combinations(events.muons, 2, fields=["a", "b"])
    pairs = pairs[pairs.a.charge != pairs.b.charge]
    a, b = pairs.a, pairs.b
    return np.sqrt(2 * a.pt * b.pt * (np.cosh(a.eta - b.eta) - np.cos(a.phi - b.phi)))


def trijet_closest_to_top(events: ak.Array):
    """Of every three jets, the mass closest to the top mass, per event."""
    jets = events.jets
    px, py = jets.pt * np.cos(jets.phi), jets.pt * np.sin(jets.phi)
    pz = jets.pt * np.sinh(jets.eta)
    energy = np.sqrt(px**2 + py**2 + pz**2 + jets.mass**2)
    four = ak.zip({"px": px, "py": py, "pz": pz, "e": energy})
    tri = ak.combinations(four, 3, fields=["a", "b", "c"])
    total = {f: tri.a[f] + tri.b[f] + tri.c[f] for f in ("px", "py", "pz", "e")}
    mass = np.sqrt(np.maximum(total["e"] ** 2 - total["px"] ** 2 - total["py"] ** 2 - total["pz"] ** 2, 0))
    best = ak.argmin(abs(mass - TOP_MASS), axis=1, keepdims=True)
    return ak.flatten(mass[best], axis=1)


def muon_isolation(events: ak.Array):
    """Muons with no jet within delta-R 0.4, by muon-jet pairs from `ak.cartesian`."""
    pairs = ak.cartesian({"mu": events.muons, "jet": events.jets}, axis=1, nested=True)
    dphi = (pairs.mu.phi - pairs.jet.phi + np.pi) % (2 * np.pi) - np.pi
    delta_r = np.sqrt((pairs.mu.eta - pairs.jet.eta) ** 2 + dphi**2)
    isolated = ak.all(delta_r > 0.4, axis=2)
    return events.muons.pt[isolated]


def ragged_argminmax(events: ak.Array):
    """The leading jet's index and the most forward jet's, per event."""
    jets = events.jets
    return ak.argmax(jets.pt, axis=1), ak.argmin(jets.eta, axis=1), ak.argmax(abs(jets.eta), axis=1)


WORKLOADS: dict[str, Callable] = {
    "met_histogram": met_histogram,
    "jet_selection": jet_selection,
    "dimuon_masses": dimuon_masses,
    "trijet_closest_to_top": trijet_closest_to_top,
    "muon_isolation": muon_isolation,
    "ragged_argminmax": ragged_argminmax,
}


# Awkward operations whose kernels give a thread a whole row (`per_thread: row` in the plans
# report): pairs within each list (ListArray_combinations), the distinct values of each list (a
# sort, then unique_ranges' in-place compaction), a sum per list (reduce_sum: a thread per bin),
# and a sum per column (reduce_nonlocal_preparenext: one thread per outer bin walks every column
# of every row, one outer bin here; then reduce_sum with a bin per column, the first columns
# as long as the input) and a maximum per column (reduce_max's split fold: those columns in
# pieces). A sum over everything never reaches a kernel (Awkward sums the flat
# buffer with the array library).
ROW_WORKLOADS: dict[str, Callable] = {
    "pairs": lambda lists: ak.combinations(lists, 2),
    "unique": lambda lists: ak.Array(ak._do.unique(lists.layout, axis=-1)),
    "sum_per_list": lambda lists: ak.sum(lists, axis=1),
    "sum_per_column": lambda lists: ak.sum(lists, axis=0),
    "max_per_column": lambda lists: ak.max(lists, axis=0),
}


def row_shapes(short_rows: int, long_rows: int, long_length: int, seed: int = 2) -> dict[str, ak.Array]:
    """The same int64 values as lists of two shapes: *skewed* (`short_rows` rows of 0 to 4 and
    `long_rows` rows of `long_length`, shuffled) and *balanced* (as many rows, all of about the
    same length), so a whole-row step's imbalance shows as the difference of their times."""
    rng = np.random.default_rng(seed)
    counts = np.concatenate([rng.integers(0, 5, short_rows), np.full(long_rows, long_length)])
    rng.shuffle(counts)
    total = int(counts.sum())
    balanced = np.full(len(counts), total // len(counts))
    balanced[: total % len(counts)] += 1
    values = rng.integers(0, 50, total)
    return {"skewed": ak.unflatten(values, counts), "balanced": ak.unflatten(values, balanced)}


def run_rows(target: str, short_rows: int, long_rows: int, long_lengths: dict[str, int], repeats: int) -> list[dict]:
    """Each row workload on both shapes in each configuration of the target, checked against the
    plain CPU; `long_lengths` gives each workload its long rows' length."""
    rows = []
    for name, work in ROW_WORKLOADS.items():
        for shape, lists in row_shapes(short_rows, long_rows, long_lengths[name]).items():
            expected = _on_cpu(work(lists))
            for config, backend, installed in configurations(target):
                row = _run_one(name, work, len(lists), lists, config, backend, installed, repeats, expected)
                row.update(shape=shape, elements=int(ak.count(lists)), outputs=_length(expected[0]))
                rows.append(row)
    return rows


def _length(result: ak.Array) -> int:
    """How many items a row workload made: its lists' items (pairs, distinct values), else its length."""
    return len(ak.flatten(result)) if result.ndim > 1 else len(result)


def configurations(target: str) -> list[tuple[str, str, str | None]]:
    """(name, Awkward backend, akcuda target installed or None) for each way a target runs."""
    if target == "cuda":
        return [("akcuda cuda", "cuda", "cuda"), ("awkward cuda", "cuda", None), ("cpu", "cpu", None)]
    return [("akcuda host", "cpu", "host"), ("cpu", "cpu", None)]


def _on_cpu(result) -> list:
    parts = result if isinstance(result, tuple) else (result,)
    return [ak.to_backend(part, "cpu") for part in parts]


def _same(left: list, right: list) -> dict:
    """Exactly equal, and equal within 1e-9 relative (a GPU's transcendentals may differ in the
    last bit from the CPU's)."""
    exact = all(ak.array_equal(a, b, equal_nan=True) for a, b in zip(left, right))
    close = exact or all(ak.almost_equal(a, b, rtol=1e-9, atol=0) for a, b in zip(left, right))
    return {"equal": bool(exact), "close": bool(close)}


def _synchronize(backend: str) -> None:
    if backend == "cuda":  # Awkward's synchronize point, which checks akcuda's deferred calls too
        import awkward._connect.cuda as ak_cuda

        ak_cuda.synchronize_cuda()


def run(target: str, sizes: tuple[int, ...], repeats: int, cpu_up_to: int | None = None) -> list[dict]:
    """Every workload at every size in each configuration: the median time of `repeats` runs
    (after a warm-up) with its spread, and whether the result equals the plain CPU's. The CPU
    runs only up to `cpu_up_to` events (its time at 10^7 would crowd out the rest)."""
    rows = []
    for n in sizes:
        cpu_events = synthetic_events(n)
        for name, work in WORKLOADS.items():
            expected = _on_cpu(work(cpu_events)) if cpu_up_to is None or n <= cpu_up_to else None
            for config, backend, installed in configurations(target):
                if config == "cpu" and expected is None:
                    continue
                rows.append(_run_one(name, work, n, cpu_events, config, backend, installed, repeats, expected))
    return rows


def _run_one(name, work, n, cpu_events, config, backend, installed, repeats, expected) -> dict:
    row = {"workload": name, "events": n, "config": config}
    events = ak.to_backend(cpu_events, backend)
    timer = timing.clock("cuda" if backend == "cuda" else "host")
    try:
        if installed:
            awkward_plugin.install(target=installed)
        last = {}

        def once() -> None:
            last["result"] = work(events)  # the previous run's result is freed
            _synchronize(backend)

        spread = timing.repeat(once, repeats, timer)
        if installed:  # one more run, traced: which kernel calls went through akcuda
            with awkward_plugin.trace() as calls:
                once()
            row["kernel_calls"], row["fallbacks"] = len(calls.calls), len(calls.fallbacks)
            row["kernels"] = sorted(set(calls.kernels))
        if expected is not None:
            row.update(_same(_on_cpu(last["result"]), expected))
        row.update(spread.as_dict())
    except Exception as exc:  # noqa: BLE001 - a configuration that cannot run this workload says why
        row["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
    finally:
        if installed:
            awkward_plugin.uninstall(installed)
    return row
