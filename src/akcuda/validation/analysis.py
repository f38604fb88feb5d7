"""A small collision analysis, written once for Awkward arrays and dask-awkward collections.

Events (`collision_events`) hold muons and jets with pt, eta, phi, mass and charge; they are
written to Parquet in partitions (`write_partitions`). `analyze` selects objects, slices jagged
lists, pairs opposite-charge muons with `ak.combinations` and computes their invariant masses,
picks the pair closest to the Z mass and the leading jet with `ak.argmin`/`ak.argmax` (keepdims),
and reduces along axis 1. It uses only `ak.*` functions, NumPy ufuncs and slicing, which a
dask-awkward collection dispatches to dask-awkward: the same function makes the stock result in
one process (`stock`) and the graph a cluster computes. `histograms` fills histograms from the
computed values with NumPy; `differences` names the results that are not identical.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from akcuda.validation import workloads

MUON_MASS = 0.1056583755
Z_MASS = 91.1876
HISTOGRAMS = {  # result -> bin edges
    "dimuon_mass": np.linspace(0.0, 200.0, 41),
    "ht": np.linspace(0.0, 600.0, 31),
    "leading_jet_eta": np.linspace(-3.0, 3.0, 25),
}


def collision_events(n: int, seed: int = 1) -> ak.Array:
    """n events: about 4 jets and 1.5 muons each, both with pt, eta, phi, mass and charge."""
    events = workloads.synthetic_events(n, seed)
    rng = np.random.default_rng(seed + 1)
    jets, muons = events.jets, events.muons
    jet_charge = rng.choice(np.array([-1, 0, 1], dtype=np.int8), int(ak.count(jets.pt)))
    jets = ak.with_field(jets, ak.unflatten(jet_charge, ak.num(jets)), "charge")
    muons = ak.with_field(muons, ak.full_like(muons.pt, MUON_MASS), "mass")
    return ak.zip({"muons": muons, "jets": jets}, depth_limit=1)


def write_partitions(events: ak.Array, folder: Path, partitions: int) -> list[Path]:
    """The events in `partitions` Parquet files of (nearly) equal length, in order."""
    folder.mkdir(parents=True, exist_ok=True)
    bounds = np.linspace(0, len(events), partitions + 1).astype(int)
    files = []
    for k, (start, stop) in enumerate(zip(bounds, bounds[1:])):
        path = folder / f"events-{k:04d}.parquet"
        ak.to_parquet(events[start:stop], path)
        files.append(path)
    return files


def _mass(a: Any, b: Any) -> Any:
    """Invariant mass of two massive objects from pt, eta, phi and mass."""
    ea = np.sqrt((a.pt * np.cosh(a.eta)) ** 2 + a.mass**2)
    eb = np.sqrt((b.pt * np.cosh(b.eta)) ** 2 + b.mass**2)
    px = a.pt * np.cos(a.phi) + b.pt * np.cos(b.phi)
    py = a.pt * np.sin(a.phi) + b.pt * np.sin(b.phi)
    pz = a.pt * np.sinh(a.eta) + b.pt * np.sinh(b.eta)
    return np.sqrt(np.maximum((ea + eb) ** 2 - px**2 - py**2 - pz**2, 0.0))


def analyze(events: Any) -> dict[str, Any]:
    """The analysis on an ak.Array or a dask-awkward collection: per-event and per-pair results."""
    muons, jets = events.muons, events.jets
    good_jets = jets[(jets.pt > 30) & (abs(jets.eta) < 2.4)]
    good_muons = muons[(muons.pt > 10) & (abs(muons.eta) < 2.4)]
    pairs = ak.combinations(good_muons, 2, fields=["a", "b"])
    pairs = pairs[pairs.a.charge != pairs.b.charge]
    mass = _mass(pairs.a, pairs.b)
    closest = ak.argmin(abs(mass - Z_MASS), axis=1, keepdims=True)
    leading = ak.argmax(good_jets.pt, axis=1, keepdims=True)
    ht = ak.sum(good_jets.pt, axis=1)
    n_jets = ak.num(good_jets, axis=1)
    selected = (n_jets >= 2) & (ak.num(pairs, axis=1) >= 1)
    return {
        "n_jets": n_jets,
        "ht": ht,
        "two_leading_jet_pt": good_jets.pt[:, :2],
        "max_abs_muon_eta": ak.max(abs(muons.eta), axis=1),
        "jet_charge_sum": ak.sum(jets.charge, axis=1),
        "dimuon_mass": mass,
        "z_candidate_mass": ak.firsts(mass[closest]),
        "leading_jet_eta": ak.firsts(good_jets.eta[leading]),
        "selected_ht": ht[selected],
    }


def failing_step(events: Any) -> Any:
    """A step that fails in a kernel: every event's fourth jet, where some events have fewer."""
    return events.jets.pt[:, 3]


def histograms(results: dict[str, ak.Array]) -> dict[str, list[int]]:
    """Counts of the histogrammed results (their values flattened, missing ones left out)."""
    counts = {}
    for name, edges in HISTOGRAMS.items():
        values = ak.to_numpy(ak.drop_none(ak.flatten(results[name], axis=None)))
        counts[name] = np.histogram(values, bins=edges)[0].tolist()
    return counts


def stock(files: list[Path]) -> dict[str, ak.Array]:
    """The analysis in this process on the concatenated files, with whatever Awkward routes to
    (stock Awkward unless akcuda is installed here)."""
    return analyze(ak.from_parquet([str(f) for f in files]))


def differences(expected: dict[str, ak.Array], got: dict[str, ak.Array]) -> list[str]:
    """The results that are not identical (type, values, NaNs and missing values), so neither are
    the histograms filled from them."""
    return [
        name for name in expected if name not in got or not ak.array_equal(expected[name], got[name], equal_nan=True)
    ]
