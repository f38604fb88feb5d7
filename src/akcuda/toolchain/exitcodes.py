"""The exit codes of every `akcuda` command (documented in the README, relied on by CI)."""

from __future__ import annotations

from enum import IntEnum


class Exit(IntEnum):
    PASSED = 0  # every chosen specialization translated, compiled and passed
    FAILED = 1  # parity failures (or untranslated, uncompiled kernels, recipe bugs)
    USAGE = 2  # a usage or setup error: bad option, malformed spec, bad upstream, unknown kernel
    REGRESSION = 3  # `report --compare`: a specialization that passed in the base fails now
