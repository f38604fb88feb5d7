"""The typed plan: every generated plan reads back as the same objects, and a bad file is an
error naming the kernel."""

from __future__ import annotations

import json

import pytest

from akcuda import plan as plans
from akcuda.plan import model as P
from akcuda.plan.errors import NO_ERROR, ErrorSlot, initial_record
from akcuda.toolchain.generate import generate


@pytest.fixture(scope="module")
def plan_files(tmp_path_factory, upstream_cpp) -> list:
    """Every kernel family's plan, translated afresh into a folder of this module's own."""
    out = tmp_path_factory.mktemp("plans")
    failed = {k: v for k, v in generate(out=out).items() if v}
    assert not failed
    return sorted(out.glob("*.plan.json"))


@pytest.mark.gxx  # plan_files translates every kernel (g++ -E)
def test_every_generated_plan_round_trips(spec_counts, plan_files):
    files = plan_files
    assert len(files) == spec_counts.kernels - len(spec_counts.pending_kernels)
    for path in files:
        data = json.loads(path.read_text())
        plan = P.from_json(data)
        assert P.to_json(plan) == data, path.name
        assert P.from_json(P.to_json(plan)) == plan


@pytest.mark.gxx  # plan_files translates every kernel (g++ -E)
def test_helper_rows_are_named_fields(plan_files):
    """A counter's helper rows (flag, key, actual advance, width, check) point inside the step's
    scan buffer and at no other counter's row."""
    for path in plan_files:
        for entry in plans.load(path).entries.values():
            for step in entry.steps:
                rows = [c.row for c in step.counters]
                helpers = [
                    r
                    for c in step.counters
                    for r in (c.flag_row, c.key_row, c.actual_row, c.width_row, c.check_row)
                    if r is not None
                ]
                assert len(set(rows + helpers)) == len(rows + helpers), path.name
                assert all(0 <= r < step.scan_rows for r in rows + helpers), path.name
                for c in step.counters:
                    private = c.kind in (P.CounterKind.COLUMNS, P.CounterKind.SCRATCH)
                    assert (c.flag_row is not None) == (c.op == P.CounterOp.LAST and not private)
                    assert (c.width_row is not None) == (c.kind == P.CounterKind.COLUMNS)
                    assert (c.check_row is not None) == private
                    assert (c.key_row is not None) == (c.kind == P.CounterKind.KEYED)
                    assert (c.actual_row is not None) == (c.op == P.CounterOp.SPECULATED)
                    assert (c.array is None) == (c.kind == P.CounterKind.LOCAL)


@pytest.mark.gxx  # plan_files translates every kernel (g++ -E)
def test_load_keeps_objects(tmp_path, plan_files):
    path = plan_files[0]
    copy = tmp_path / path.name
    copy.write_text(path.read_text())
    first = plans.load(copy)
    assert plans.load(copy) is first


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(schema_version=P.SCHEMA_VERSION + 1), "schema version"),
        (lambda d: d.pop("entries"), "malformed"),
        (lambda d: next(iter(d["entries"].values()))["steps"][0].update(kind="diagonal"), "malformed"),
    ],
)
@pytest.mark.gxx  # plan_files translates every kernel (g++ -E)
def test_bad_plan_is_an_error_naming_the_kernel(change, message, plan_files):
    data = json.loads(plan_files[0].read_text())
    change(data)
    with pytest.raises(P.PlanError, match=message) as raised:
        P.from_json(data)
    assert data["kernel"] in str(raised.value)


def test_error_record_slots():
    record = initial_record()
    assert len(record) == len(ErrorSlot)
    assert record[ErrorSlot.ITERATION] == NO_ERROR == record[ErrorSlot.FIRST]
    assert record[ErrorSlot.STEP] == -1 and record[ErrorSlot.MESSAGE] == -1
