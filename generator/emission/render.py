"""The emit stage's Jinja2 environment and the macros of its templates.

Every template under `templates/` is rendered with the same settings, so whitespace behaves
alike in the kernel frame and in the step-kernel macros.
"""

from __future__ import annotations

import functools
from pathlib import Path

import jinja2

TEMPLATES = Path(__file__).with_name("templates")


@functools.cache
def environment() -> jinja2.Environment:
    """The shared environment: strict about undefined names, block tags own no whitespace."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


@functools.cache
def macros(template: str = "steps.cu.j2"):
    """The macros of `template`, as attributes callable from Python (`macros().count(...)`)."""
    return environment().get_template(template).module
