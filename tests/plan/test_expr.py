"""The plan's expression language: C semantics, JSON round trip, text, malformed input."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from akcuda.plan import expr as E

small = st.integers(min_value=-1000, max_value=1000)
leaves = st.one_of(small.map(E.Int), st.sampled_from(["a", "b"]).map(E.Arg))


def _tree(children):
    return st.one_of(
        st.tuples(st.sampled_from(E.BINARY), children, children).map(lambda t: E.Binary(*t)),
        st.tuples(st.sampled_from(E.UNARY), children).map(lambda t: E.Unary(*t)),
        st.tuples(children, children, children).map(lambda t: E.Cond(*t)),
    )


trees = st.recursive(leaves, _tree, max_leaves=12)


def c_value(e: E.Expr, env: dict[str, int]) -> int:
    """An independent reading of C's rules: quotients through exact fractions, truncated."""
    if isinstance(e, E.Int):
        return e.value
    if isinstance(e, E.Arg):
        return env[e.name]
    if isinstance(e, E.Unary):
        v = c_value(e.operand, env)
        return -v if e.op == "neg" else int(v == 0)
    if isinstance(e, E.Cond):
        return c_value(e.then if c_value(e.test, env) != 0 else e.otherwise, env)
    a = c_value(e.left, env)
    if e.op == "&&":
        return int(a != 0 and c_value(e.right, env) != 0)
    if e.op == "||":
        return int(a != 0 or c_value(e.right, env) != 0)
    b = c_value(e.right, env)
    if e.op in ("/", "%"):
        if b == 0:
            raise ZeroDivisionError
        q = Fraction(a, b)
        quotient = q.numerator // q.denominator if q >= 0 else -((-q.numerator) // q.denominator)
        return quotient if e.op == "/" else a - b * quotient
    return int(
        {
            "+": a + b,
            "-": a - b,
            "*": a * b,
            "<": a < b,
            "<=": a <= b,
            ">": a > b,
            ">=": a >= b,
            "==": a == b,
            "!=": a != b,
        }[e.op]
    )


@given(trees, small, small)
def test_evaluation_follows_c(tree, a, b):
    env = {"a": a, "b": b}
    try:
        expected = c_value(tree, env)
    except ZeroDivisionError:
        with pytest.raises(ZeroDivisionError):
            E.evaluate(tree, env)
        return
    assert E.evaluate(tree, env) == expected


@given(trees)
def test_json_round_trip(tree):
    assert E.from_json(E.to_json(tree)) == tree


@pytest.mark.parametrize(
    ("a", "b", "quotient", "remainder"), [(7, 2, 3, 1), (-7, 2, -3, -1), (7, -2, -3, 1), (-7, -2, 3, -1)]
)
def test_division_truncates_toward_zero(a, b, quotient, remainder):
    env = {"a": a, "b": b}
    assert E.evaluate(E.Binary("/", E.Arg("a"), E.Arg("b")), env) == quotient
    assert E.evaluate(E.Binary("%", E.Arg("a"), E.Arg("b")), env) == remainder


def test_short_circuit_reads_nothing_it_need_not():
    never = E.Memory("missing")  # reading it would need an array that is not there
    assert E.evaluate(E.Binary("&&", E.Int(0), never), {}) == 0
    assert E.evaluate(E.Binary("||", E.Int(1), never), {}) == 1
    assert E.evaluate(E.Cond(E.Int(1), E.Int(5), never), {}) == 5
    assert E.evaluate(E.Memory("x"), {}, {"x": [42, 0]}) == 42


def test_text_for_reports():
    length = E.Binary("-", E.Arg("length"), E.Int(0))
    assert E.to_text(length) == "length"
    assert E.to_text(E.Binary("*", E.Arg("n"), E.Binary("+", E.Arg("m"), E.Int(1)))) == "n * (m + 1)"
    assert E.to_text(E.Memory("size")) == "size[0]"
    assert E.to_text(None) == "1"


def test_all_of_keeps_each_condition_once():
    x, y = E.Binary(">=", E.Arg("n"), E.Int(0)), E.Binary("<=", E.Arg("n"), E.Arg("m"))
    assert E.all_of([]) is None
    assert E.all_of([x, y, x]) == E.Binary("&&", x, y)


@pytest.mark.parametrize("bad", [[], ["int"], ["int", "3"], ["+", ["int", 1]], ["pow", ["int", 1], ["int", 2]], "n"])
def test_malformed_json_is_an_error(bad):
    with pytest.raises(ValueError, match="malformed plan expression"):
        E.from_json(bad)
