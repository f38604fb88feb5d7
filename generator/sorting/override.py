"""A spec-level override: a kernel whose sort the sort rule (rule.py) cannot read (a strncmp
comparator over runs of parents, `std::vector<std::string>`) names the library sort step in its
spec, and this module turns that, or the rule's Sort, into the plan.

    sort:                                # kernel-specs/awkward_argsort.yml
      count: length                      # C expressions over the scalar arguments
      keys: fromptr
      ranges: offsets                    # whole | offsets | runs
      bounds: offsets
      range_count: offsetslength - 1
      out: toptr
      writes: permutation                # values | permutation | strings
      local: true
      ascending: ascending
      stable: stable
      nan_first: true
      reason: lambda comparators over std::vector

-> Plan(entries={"awkward_argsort": Entry(steps=(Step(Sort(...)),))}, ...)
"""

from __future__ import annotations

from pycparser import c_ast, c_parser

from akcuda.generator.analysis.loops import host_expr
from akcuda.generator.frontend.errors import TranslationError
from akcuda.plan import model as P
from akcuda.plan import translator_fingerprint
from akcuda.plan.expr import Expr

_EXPRESSIONS = ("count", "ascending", "stable", "range_count", "local")
_NAMES = ("keys", "bounds", "out", "out_offsets")
_ENUMS = {"ranges": P.SortRanges, "writes": P.SortWrites, "extent": P.SortExtent, "ties": P.SortTies}
_FLAGS = ("nan_first", "stops_at_nul")


def expression(kernel: str, text: str | int | bool, scalars: set[str]) -> Expr:
    """A C expression over scalar arguments, as a plan expression: 'offsetslength - 1' ->
    Binary('-', Arg('offsetslength'), Int(1))."""
    source = str(int(text)) if isinstance(text, (bool, int)) else str(text)
    try:
        tree = c_parser.CParser().parse(f"long akc_f(void) {{ return ({source}); }}")
    except Exception as exc:  # pycparser's ParseError
        raise TranslationError(kernel, None, f"sort override expression {source!r} ({exc})") from exc
    body = tree.ext[0].body.block_items[0]
    assert isinstance(body, c_ast.Return)
    found = host_expr(body.expr, scalars)
    if found is None:
        raise TranslationError(kernel, None, f"sort override expression {source!r} is not over scalar arguments")
    return found


def _ref(kernel: str, text: str, arrays: set[str]) -> P.RowRef:
    """'offsets' -> RowRef('offsets'); 'offsets + 1' -> RowRef('offsets', 1)."""
    name, _, shift = (part.strip() for part in str(text).partition("+"))
    if name not in arrays:
        raise TranslationError(kernel, None, f"sort override: {name!r} is not an array argument")
    return P.RowRef(name, int(shift or 0))


def sort_step(spec: dict) -> P.Sort:
    """The spec's `sort` override as a plan Sort (names checked against the signature)."""
    kernel, given = spec["name"], dict(spec["sort"])
    args = spec["specializations"][0]["args"]
    arrays = {a["name"] for a in args if "*" in a["ctype"]}
    scalars = {a["name"] for a in args} - arrays
    fields: dict = {"rule": "override"}
    for name, value in given.items():
        if name in _EXPRESSIONS:
            fields[name] = expression(kernel, value, scalars)
        elif name in _NAMES:
            if value not in arrays:
                raise TranslationError(kernel, None, f"sort override: {name} {value!r} is not an array argument")
            fields[name] = value
        elif name in _ENUMS:
            fields[name] = _ENUMS[name](value)
        elif name in _FLAGS:
            fields[name] = bool(value)
        elif name in ("string_starts", "string_stops"):
            fields[name] = _ref(kernel, value, arrays)
        elif name != "reason":
            raise TranslationError(kernel, None, f"sort override: unknown field {name!r}")
    try:
        return P.Sort(**fields)
    except TypeError as exc:
        raise TranslationError(kernel, None, f"sort override: {exc}") from exc


def sort_plan(spec: dict, rule: tuple[P.Sort, int | None] | None = None, refused: str | None = None) -> P.Plan:
    """The plan of a kernel that is one library sort step (no kernel launches): the sort rule's
    Sort and line where it read the kernel (rule.py), else the spec's override, with the
    rule's refusal (kernel, file:line, construct) in its reason."""
    if rule is not None:
        step = P.Step(rule[0], line=rule[1])
    else:
        reason = spec["sort"].get("reason")
        step = P.Step(sort_step(spec), reason=f"{reason}; {refused}" if refused else reason)
    entry = spec["name"]
    specializations = {
        s["symbol"]: P.Specialization(s["symbol"], entry, tuple(s["template_args"]), ({},))
        for s in spec["specializations"]
    }
    return P.Plan(
        entry,
        (),
        {entry: P.Entry(tuple(spec.get("template_params", ())), (), (step,))},
        specializations,
        translator_fingerprint(),
    )
