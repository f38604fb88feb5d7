"""`akcuda report --compare BASE.json`: what changed between two parity reports, per specialization.

A regression is a specialization that passed in the base and does not pass now; a fix the
reverse; new and removed ones are listed too. Reports of another schema version cannot be
compared (regenerate the base with this akcuda).
"""

from __future__ import annotations

from dataclasses import dataclass

from akcuda.validation.report import SCHEMA_VERSION


class CompareError(ValueError):
    """Two reports that cannot be compared: names the file and the problem."""


@dataclass(frozen=True)
class Change:
    symbol: str
    kernel: str
    before: str | None  # status in the base (None: not there)
    after: str | None  # status now (None: not there any more)
    why: str = ""  # the current failure, for a regression


@dataclass(frozen=True)
class Comparison:
    regressions: tuple[Change, ...]
    fixes: tuple[Change, ...]
    new: tuple[Change, ...]
    removed: tuple[Change, ...]
    unchanged: int

    @property
    def regressed(self) -> bool:
        return bool(self.regressions)


def _rows(report: dict, name: str) -> dict[str, dict]:
    version = report.get("schema_version")
    if version != SCHEMA_VERSION:
        raise CompareError(
            f"{name}: parity report schema version {version}, this akcuda writes {SCHEMA_VERSION}: "
            "regenerate it with this akcuda"
        )
    return {row["symbol"]: row for row in report["specializations"]}


def compare(current: dict, base: dict, names: tuple[str, str] = ("report", "base")) -> Comparison:
    """Per specialization: base status -> current status."""
    now, before = _rows(current, names[0]), _rows(base, names[1])
    regressions, fixes, unchanged = [], [], 0
    for symbol in sorted(set(now) & set(before)):
        a, b = before[symbol], now[symbol]
        change = Change(
            symbol,
            b["kernel"],
            a["status"],
            b["status"],
            ((b.get("failure") or {}).get("reason") or b.get("reason") or ""),
        )
        if a["status"] == "passed" and b["status"] != "passed":
            regressions.append(change)
        elif a["status"] != "passed" and b["status"] == "passed":
            fixes.append(change)
        else:
            unchanged += 1
    new = [Change(s, now[s]["kernel"], None, now[s]["status"]) for s in sorted(set(now) - set(before))]
    removed = [Change(s, before[s]["kernel"], before[s]["status"], None) for s in sorted(set(before) - set(now))]
    return Comparison(tuple(regressions), tuple(fixes), tuple(new), tuple(removed), unchanged)
