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
typed_trees = st.recursive(st.one_of(leaves, st.just(E.Integral("T"))), _tree, max_leaves=12)


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


@given(typed_trees)
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


def _substituted(e: E.Expr, value: int) -> E.Expr:
    """The tree with `integral(T)` written as the value it has."""
    if isinstance(e, E.Integral):
        return E.Int(value)
    if isinstance(e, E.Unary):
        return E.Unary(e.op, _substituted(e.operand, value))
    if isinstance(e, E.Binary):
        return E.Binary(e.op, _substituted(e.left, value), _substituted(e.right, value))
    if isinstance(e, E.Cond):
        return E.Cond(*(_substituted(part, value) for part in (e.test, e.then, e.otherwise)))
    return e


@given(typed_trees, st.booleans(), small, small)
def test_binding_types_keeps_the_value_c_gives(tree, integral, a, b):
    """Per specialization `integral(T)` is 0 or 1: the bound tree has no `Integral` left and the
    value C gives the tree with that 0 or 1 (None: a condition that always holds)."""
    env = {"a": a, "b": b}
    try:
        want = c_value(_substituted(tree, int(integral)), env)
    except ZeroDivisionError:
        return  # C's own value is undefined; a bound tree may skip the division
    bound = E.bind_types(tree, {"T": integral})
    assert "integral" not in str(E.to_json(bound))
    assert want != 0 if bound is None else E.evaluate(bound, env) == want


def test_a_type_guard_is_decided_per_specialization():
    few = E.Binary("<=", E.Arg("n"), E.Int(64))
    split = E.Binary("&&", few, E.Integral("OUT"))
    assert E.bind_types(split, {"OUT": True}) == few
    assert E.bind_types(split, {"OUT": False}) == E.Int(0)
    assert E.bind_types(E.Unary("!", split), {"OUT": False}) is None  # always holds
    assert E.to_text(split) == "n <= 64 && integral(OUT)"
    with pytest.raises(ValueError, match="bind_types first"):
        E.evaluate(split, {"n": 3})
