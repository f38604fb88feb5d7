"""The `akcuda` command. `akcuda info` and `akcuda --version` run on any install; every other
command is the toolchain's (`akcuda.toolchain.cli`): it needs the `toolchain` extra and a
checkout of akcuda's sources, and says so in one line where either is missing."""

from __future__ import annotations

import importlib.util
import sys

from akcuda import __version__

TOOLCHAIN = ("pycparser", "jinja2", "yaml", "rich")  # what the toolchain's commands import (its extra)
USAGE = """usage: akcuda info [--json] | akcuda --version

`akcuda info`: versions, where the kernels come from, which targets can run here.
The other commands (generate, compile, parity, ...) are the toolchain's: they run in a checkout
of akcuda's sources, with the toolchain extra installed (pip install 'akcuda[toolchain]')."""


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["info"]:
        from akcuda import info

        return info.main(argv[1:])
    if argv[:1] == ["--version"]:
        print(f"akcuda {__version__}")
        return 0
    missing = [name for name in TOOLCHAIN if importlib.util.find_spec(name) is None]
    if missing:
        if not argv or argv[0] in ("-h", "--help"):
            print(USAGE)
            return 0 if argv else 2
        print(
            f"akcuda {argv[0]}: a toolchain command, and the toolchain extra is not installed (no "
            f"{', '.join(missing)}): pip install 'akcuda[toolchain]' in a checkout of akcuda; "
            "`akcuda info` runs anywhere",
            file=sys.stderr,
        )
        return 2
    from akcuda.toolchain.cli import main as toolchain

    return toolchain(argv)
