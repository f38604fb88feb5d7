"""Trees compared by structure (ast_util.same): spacing and coordinates aside, any difference of
node type, name, operator or value tells two trees apart."""

from __future__ import annotations

import pytest
from pycparser import c_parser

from akcuda.generator.analysis.ast_util import same


def expression(source: str):
    """The expression of `x = source;` in a function of its own (fresh coordinates each time)."""
    func = c_parser.CParser().parse(f"void f(void) {{\n\n x = {source}; }}").ext[0]
    return func.body.block_items[0].rvalue


@pytest.mark.parametrize(
    ("a", "b"),
    [("i + 1", "i+1"), ("a[b * C + c]", "a[ b*C+c ]"), ("(long) x", "(long)x"), ("f(a, b)", "f(a,b)")],
)
def test_one_structure_in_any_spelling_is_the_same(a: str, b: str) -> None:
    assert same(expression(a), expression(b))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("i + 1", "1 + i"),  # operands swapped
        ("i + 1", "i - 1"),  # operator
        ("i + 1", "j + 1"),  # name
        ("i + 1", "i + 2"),  # value
        ("(long) x", "(int) x"),  # a type's name
        ("f(a, b)", "f(a)"),  # a child fewer
        ("a[i]", "*a"),  # node type
    ],
)
def test_any_difference_tells_trees_apart(a: str, b: str) -> None:
    assert not same(expression(a), expression(b))
