"""Stage: one kernel family's C++ source -> one CUDA file plus its typed plan.

parse (preprocess + pycparser) -> gather (entries, helpers) -> analyze (plan steps, per entry)
-> emit (CudaGenerator + Jinja2) -> `Translation(source, plan)`.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path

from pycparser import c_ast, c_parser

from akcuda.generator import analyze, compaction, private_rows, sorts
from akcuda.generator.analyze import plain_integer, plan_steps
from akcuda.generator.ast_util import walk
from akcuda.generator.counters import Counter as Found
from akcuda.generator.cuda_generator import CudaGenerator, Normalizer, TranslationError
from akcuda.generator.folds import StepFold, plan_folds
from akcuda.generator.loops import INTEGER_TYPES, input_sized_loop, type_names, uses
from akcuda.generator.override import sort_plan
from akcuda.generator.preprocess import HELPER_SOURCES, Preprocessed, preprocess
from akcuda.generator.render import environment
from akcuda.generator.steps import form_on_device, step_kernels
from akcuda.plan import model as P
from akcuda.plan import translator_fingerprint
from akcuda.plan.errors import ErrorSlot
from akcuda.plan.expr import Expr, Int, Integral


@dataclass
class Parsed:
    pp: Preprocessed
    functions: dict[str, c_ast.FuncDef]


@dataclass
class Translation:
    kernel: str
    source: str
    plan: P.Plan


@dataclass
class Family:
    """What one kernel family's translation shares: its parse, the template facts of every
    source it uses, its entries (the C functions its symbols instantiate) and the helpers they
    call, in definition order."""

    spec: dict
    parsed: Parsed
    templates: dict[str, list[str]]
    call_targs: dict[tuple[str, int, str], list[str]]
    entries: list[str]
    helpers: dict[str, c_ast.FuncDef]
    helper_order: list[str]
    messages: list[str] = field(default_factory=list)

    @property
    def kernel(self) -> str:
        return self.spec["name"]

    def generator(self, step: int = 0, mode: str = "plain") -> CudaGenerator:
        return CudaGenerator(self.kernel, self.call_targs, self.messages, step=step, mode=mode)

    def wrapper_args(self, entry: str) -> list[list[str]]:
        """The template arguments of every specialization that instantiates `entry`."""
        wrappers = self.parsed.pp.wrappers
        return [
            wrappers[s["symbol"]].template_args
            for s in self.spec["specializations"]
            if s["symbol"] in wrappers and wrappers[s["symbol"]].target == entry
        ]


def parse(path: Path, include_dirs: list[Path]) -> Parsed:
    """Pre-pass and pycparser; every function definition by name."""
    pp = preprocess(path, include_dirs)
    try:
        ast = c_parser.CParser().parse(pp.text, filename=str(path))
    except Exception as exc:  # pycparser's ParseError carries file:line:col
        raise TranslationError(path.stem, None, f"C syntax ({exc})") from exc
    Normalizer().visit(ast)
    functions = {node.decl.name: node for node in ast.ext if isinstance(node, c_ast.FuncDef)}
    return Parsed(pp, functions)


@functools.lru_cache(maxsize=4)
def _helper_library(kernel_dir: Path, include_dir: Path) -> dict[str, tuple[c_ast.FuncDef, Parsed]]:
    """Functions of the shared helper sources (kernel-utils, unicode), by name."""
    out = {}
    for name in HELPER_SOURCES:
        if not (kernel_dir / name).exists():
            continue
        parsed = parse(kernel_dir / name, [include_dir])
        for fname, func in parsed.functions.items():
            out[fname] = (func, parsed)
    return out


def _called(func: c_ast.FuncDef) -> list[str]:
    return [c.name.name for c in uses(func.body).calls if isinstance(c.name, c_ast.ID)]


def _template_header(params: list[str]) -> str:
    return f"template <{', '.join('typename ' + p for p in params)}>\n" if params else ""


def _params(func: c_ast.FuncDef) -> list[c_ast.Node]:
    return func.decl.type.args.params if func.decl.type.args else []


def source_path(spec: dict, kernel_dir: Path) -> Path:
    """The family's C++ file: a contributor's kernel file may live anywhere (then it is absolute)."""
    source = Path(spec["source"])
    return source if source.is_absolute() else kernel_dir / source.name


def gather(spec: dict, kernel_dir: Path, include_dir: Path) -> Family:
    """Parse the family's source and the helper library; find its entries and their helpers."""
    parsed = parse(source_path(spec, kernel_dir), [include_dir])
    library = _helper_library(kernel_dir, include_dir)
    templates = dict(parsed.pp.templates)
    call_targs = {}
    for other in [p for _, p in library.values()] + [parsed]:
        templates.update(other.pp.templates)
        call_targs.update(
            {(str(other.pp.path), line, name): targs for (line, name), targs in other.pp.call_template_args.items()}
        )
    entries: list[str] = []
    for special in spec["specializations"]:
        wrapper = parsed.pp.wrappers.get(special["symbol"])
        if wrapper is None and special["symbol"] not in parsed.functions:
            raise TranslationError(spec["name"], None, f"exported symbol {special['symbol']} (no definition found)")
        entry = wrapper.target if wrapper is not None else special["symbol"]
        if entry not in entries:
            entries.append(entry)
    local = {name: f for name, f in parsed.functions.items() if name not in entries and name not in parsed.pp.wrappers}
    helpers = {**{n: f for n, (f, _) in library.items()}, **local}
    return Family(spec, parsed, templates, call_targs, entries, helpers, _call_order(parsed, entries, helpers))


def _call_order(parsed: Parsed, entries: list[str], helpers: dict[str, c_ast.FuncDef]) -> list[str]:
    """The helpers the entries call, callees before callers (so each is defined before use)."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen or name not in helpers:
            return
        seen.add(name)
        for callee in _called(helpers[name]):
            visit(callee)
        order.append(name)

    for entry in entries:
        for callee in _called(parsed.functions[entry]):
            visit(callee)
    return order


def _emit_helpers(family: Family) -> list[str]:
    """Each helper as a `__device__` function."""
    return [
        _template_header(family.templates.get(name, []))
        + "__device__ "
        + family.generator().visit(family.helpers[name])
        for name in family.helper_order
    ]


def _private_helpers(family: Family, steps: list[analyze.Step], emitted: list[str]) -> list[str]:
    """The count and fill forms of the helpers that steps with private copies call (once per
    kernel file), with the template arguments of their calls inside the chain."""
    out: list[str] = []
    for facts in {s.private.chain: s.private for s in steps if s.private is not None}.values():
        for (file, line, name), targs in list(family.call_targs.items()):
            if name in facts.chain:
                family.call_targs.update(
                    {(file, line, name + suffix): targs for suffix in private_rows.SUFFIX.values()}
                )

        def emit(name: str, func: c_ast.FuncDef) -> str:
            return _template_header(family.templates.get(name, [])) + "__device__ " + family.generator().visit(func)

        sources = private_rows.helper_sources(facts, family.helpers, emit)
        out += [s for s in sources if s not in emitted + out]
    return out


def _analyze(family: Family, entry: str) -> tuple[list[analyze.Step], list[c_ast.Decl]]:
    """The plan steps of one entry and the top-level locals spilled between them."""
    func = family.parsed.functions[entry]
    params = _params(func)
    scalars = {p.name for p in params if isinstance(p.type, c_ast.TypeDecl)}
    writing = {name for name, f in family.helpers.items() if any(isinstance(p.type, c_ast.PtrDecl) for p in _params(f))}
    tparams, targs = family.templates.get(entry, []), family.wrapper_args(entry)
    return plan_steps(
        func,
        scalars,
        writing,
        {p.name for p in params} - scalars,
        functools.partial(_integral, params, tparams, targs),
        functools.partial(_integer_where, tparams, targs),
        family.helpers,
    )


def _emit_entry(
    family: Family, entry: str, steps: list[analyze.Step], decls: list[c_ast.Decl], folds: list[StepFold]
) -> list[dict]:
    """Every launch of one entry's steps, as the kernel template renders them."""
    header = _template_header(family.templates.get(entry, []))
    params = ", ".join(family.generator().declaration(p) for p in _params(family.parsed.functions[entry]))
    kernels = []
    for k, (step, fold) in enumerate(zip(steps, folds)):

        def make_gen(mode: str, k: int = k) -> CudaGenerator:
            made = family.generator(step=k, mode=mode)
            made.in_kernel, made.indent_level, made.spilled = True, 2, bool(decls)
            return made

        for sk in step_kernels(make_gen, step, decls, fold):
            kernels.append(
                {
                    "name": f"{entry}__s{k}" + ("" if sk.role == "main" else f"_{sk.role}"),
                    "role": sk.role,
                    "target": entry,
                    "step": k,
                    "kind": f"{step.kind} {sk.role}",
                    "reason": step.reason,
                    "template": header,
                    "params": params,
                    "body": sk.body,
                }
            )
    return kernels


def _specialization(family: Family, special: dict, kernels: list[dict]) -> P.Specialization:
    """One exported symbol's launches: its entry's kernels with its template arguments."""
    symbol = special["symbol"]
    wrapper = family.parsed.pp.wrappers.get(symbol)
    entry = wrapper.target if wrapper else symbol
    targs = tuple(wrapper.template_args if wrapper else [])
    suffix = f"<{', '.join(targs)}>" if targs else ""
    by_step: dict[int, dict[P.Role, P.Launch]] = {}
    for kernel in kernels:
        if kernel["target"] == entry:
            by_step.setdefault(kernel["step"], {})[P.Role(kernel["role"])] = P.Launch(
                f"{kernel['name']}{suffix}", f"akc_host__{symbol}__{kernel['name'][len(entry) + 2 :]}"
            )
    return P.Specialization(symbol, entry, targs, tuple(by_step[k] for k in sorted(by_step)))


def _render(spec: dict, helpers: list[str], kernels: list[dict], specializations: dict) -> str:
    return (
        environment()
        .get_template("kernel.cu.j2")
        .render(
            kernel=spec["name"],
            source=Path(spec["source"]).name,  # not its folder: the text is the same wherever it is generated
            sha256=spec["sha256"],
            error_slots=list(ErrorSlot),
            helpers=helpers,
            kernels=kernels,
            specializations=[
                {
                    "symbol": s["symbol"],
                    "launches": [
                        launch for roles in specializations[s["symbol"]].launches for launch in roles.values()
                    ],
                    "ctypes": [a["ctype"].replace("const ", "") for a in s["args"]],
                }
                for s in spec["specializations"]
            ],
        )
    )


def translate(spec: dict, kernel_dir: Path, include_dir: Path) -> Translation:
    """Translate the kernel family described by `spec` (a kernel-spec mapping); a kernel the
    sort rule reads (sorts.py), or whose spec has a `sort` override, is one library sort step
    and no kernel. The override serves only where the rule refuses (and the plan says why)."""
    path = source_path(spec, kernel_dir)
    c_sha256 = hashlib.sha256(path.read_bytes()).hexdigest()  # the store refuses the plan for another spec's C
    if sorts.has_sort(path) or "sort" in spec:
        try:
            found, refused = sorts.recognise(spec, path, [include_dir]), None
        except sorts.Refused as exc:
            if "sort" not in spec:
                raise
            # the file's name, not its folder: a plan reads the same wherever it was generated
            found, refused = None, f"{exc.kernel}: {Path(exc.where).name}: cannot translate {exc.construct}"
        plan = replace(sort_plan(spec, found, refused), source_sha256=c_sha256)
        return Translation(spec["name"], _render(spec, [], [], plan.specializations), plan)
    family = gather(spec, kernel_dir, include_dir)
    helpers = _emit_helpers(family)
    entries, kernels = {}, []
    for entry in family.entries:
        steps, decls = _analyze(family, entry)
        folds = plan_folds(steps, {d.name for d in decls})
        helpers += _private_helpers(family, steps, helpers)
        if any(s.compaction is not None for s in steps) and compaction.helper_source() not in helpers:
            helpers.append(compaction.helper_source())
        entries[entry] = P.Entry(
            tuple(family.templates.get(entry, [])),
            tuple(d.name for d in decls),
            tuple(plan_step(s, f, family.helpers) for s, f in zip(steps, folds)),
        )
        kernels += _emit_entry(family, entry, steps, decls, folds)
    specializations = {s["symbol"]: _specialization(family, s, kernels) for s in spec["specializations"]}
    plan = P.Plan(family.kernel, tuple(family.messages), entries, specializations, translator_fingerprint(), c_sha256)
    source = _render(spec, helpers, kernels, specializations)
    return Translation(family.kernel, source, plan)


# ---------------------------------------------------------------- analysis -> plan


def plan_step(
    step: analyze.Step, fold: StepFold | None = None, helpers: dict[str, c_ast.FuncDef] | None = None
) -> P.Step:
    """The plan's record of an analysis step (`fold`: what folds into or out of it)."""
    fold = fold or StepFold()
    line = step.stmts[0].coord.line if step.stmts and step.stmts[0].coord else None
    return P.Step(
        P.StepKind(step.kind),
        line,
        step.reason,
        step.constant_work,
        step.count,
        step.first,
        step.guard,
        step.requires,
        step.checked,
        tuple(step.segments),
        plan_counters(step.counters),
        len(step.counters) + (step.compaction is not None),  # compaction: its check row last
        compaction=_compaction(step),
        fold=P.Fold(fold.into) if fold.into else None,
        row_loop=_row_loop(step, helpers or {}),
        partials=step.partials,
        form_on_device=form_on_device(step, fold),
    )


def _row_loop(step: analyze.Step, helpers: dict[str, c_ast.FuncDef]) -> int | None:
    """The line of an input-sized loop each iteration of a parallel or scan step runs (in its
    body, or the line of a call to a helper that loops), so the report can say a thread does a
    whole row's work; None for constant work per iteration."""
    if step.kind == "serial" or step.loop is None:
        return None
    found = input_sized_loop(step.loop.stmt)
    if found is None:
        calls = (n for n in walk(step.loop.stmt) if isinstance(n, c_ast.FuncCall) and isinstance(n.name, c_ast.ID))
        found = next((c for c in calls if c.name.name in helpers and input_sized_loop(helpers[c.name.name].body)), None)
    if found is None:
        return None
    coord = found.coord or step.loop.coord
    return coord.line if coord else 0  # a loop the rules wrote without a position: line unknown


def _compaction(step: analyze.Step) -> P.Compaction | None:
    """The plan's record of an in-place compaction: its array, its counter's row, the check row."""
    if step.compaction is None:
        return None
    row = next(k for k, c in enumerate(step.counters) if c.name == step.compaction.counter)
    return P.Compaction(step.compaction.array, row, len(step.counters))


# Where a counter's helper row (the entry after it) goes in the plan's Counter.
_HELPER_ROWS = {"last": "flag_row", "speculated": "actual_row"}
# The rows after a private copy's own: columns' width and check, scratch's check.
_PRIVATE_ROWS = {"columns": {"width_row": 1, "check_row": 2}, "scratch": {"check_row": 1}}


def plan_counters(found: list[Found]) -> tuple[P.Counter, ...]:
    """The analysis lists a counter's helper row (a last-value flag, a key, a speculated
    counter's actual advance) as the entry after it; the plan names it on the counter."""
    out = []
    for row, c in enumerate(found):
        if c.kind in ("flag", "key", "width", "check"):
            continue
        if c.kind in _PRIVATE_ROWS:
            rows = {name: row + shift for name, shift in _PRIVATE_ROWS[c.kind].items()}
        else:
            helper = "key_row" if c.kind == "keyed" else _HELPER_ROWS.get(c.op)
            rows = {helper: row + 1} if helper else {}
        out.append(P.Counter(P.CounterKind(c.kind), P.CounterOp(c.op), c.name, row, c.place, c.array or None, **rows))
    return tuple(out)


def _integral(params: list, tparams: list[str], targets_args: list[list[str]], array: str) -> bool:
    """Is the element type of pointer parameter `array` an integer in every specialization?"""
    param = next((p for p in params if p.name == array), None)
    names = type_names(param) if param is not None else []
    return bool(names) and _integer_where(tparams, targets_args, names[-1]) == Int(1)


def _integer_where(tparams: list[str], targets_args: list[list[str]], name: str) -> Expr | None:
    """Where type `name` (maybe a template parameter) is an integer: Int(1) in every
    specialization, `integral(name)` in some, None in none."""
    if name in tparams:
        position = tparams.index(name)
        integers = [a[position] in INTEGER_TYPES for a in targets_args]
        return Int(1) if integers and all(integers) else Integral(name) if any(integers) else None
    return plain_integer(name)
