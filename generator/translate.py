"""The translator's driver: one kernel family's C++ source -> one CUDA file plus its typed plan.

front end (frontend/: preprocess, pycparser) -> gather (entries, helpers) -> plan the steps of
each entry (planner.py: rewrites and rules) -> folds and emission (emission/: CudaGenerator,
Jinja2) -> `Translation(source, plan)`. A kernel that sorts is read by the sort rule first
(sorting/).
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path

from pycparser import c_ast

from akcuda.generator.analysis.context import Planned, Signature, parameters
from akcuda.generator.analysis.loops import uses
from akcuda.generator.emission import compaction, private_rows
from akcuda.generator.emission.cuda_generator import CudaGenerator
from akcuda.generator.emission.folds import StepFold, plan_folds
from akcuda.generator.emission.render import environment
from akcuda.generator.emission.steps import form_on_device, step_kernels
from akcuda.generator.frontend.errors import TranslationError
from akcuda.generator.frontend.parse import Parsed, parse
from akcuda.generator.frontend.preprocess import HELPER_SOURCES
from akcuda.generator.planner import Trace, plan_steps
from akcuda.generator.sorting import rule as sorts
from akcuda.generator.sorting.override import sort_plan
from akcuda.plan import model as P
from akcuda.plan import translator_fingerprint
from akcuda.plan.errors import ErrorSlot


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
        """A printer for this family's CUDA, collecting its failure messages."""
        return CudaGenerator(self.kernel, self.call_targs, self.messages, step=step, mode=mode)

    def wrapper_args(self, entry: str) -> list[list[str]]:
        """The template arguments of every specialization that instantiates `entry`."""
        wrappers = self.parsed.pp.wrappers
        return [
            wrappers[s["symbol"]].template_args
            for s in self.spec["specializations"]
            if s["symbol"] in wrappers and wrappers[s["symbol"]].target == entry
        ]


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


def _private_helpers(family: Family, steps: list[Planned], emitted: list[str]) -> list[str]:
    """The count and fill forms of the helpers that steps with private copies call (once per
    kernel file), with the template arguments of their calls inside the chain."""
    out: list[str] = []
    private = [s.step.form for s in steps if isinstance(s.step.form, P.PrivateRows)]
    for facts in {form.chain: form for form in private}.values():
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


def signature(family: Family, entry: str) -> Signature:
    """What `entry`'s parameters and its specializations' template arguments say."""
    func = family.parsed.functions[entry]
    return Signature.of(func, family.helpers, family.templates.get(entry, []), family.wrapper_args(entry))


def analyzed(family: Family, entry: str, trace: Trace | None = None) -> tuple[list[Planned], list[c_ast.Decl]]:
    """The plan steps of one entry and the top-level locals spilled between them."""
    return plan_steps(family.parsed.functions[entry], signature(family, entry), trace)


def _emit_entry(
    family: Family, entry: str, steps: list[Planned], decls: list[c_ast.Decl], folds: list[StepFold]
) -> list[dict]:
    """Every launch of one entry's steps, as the kernel template renders them."""
    header = _template_header(family.templates.get(entry, []))
    params = ", ".join(family.generator().declaration(p) for p in parameters(family.parsed.functions[entry]))
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
                    "kind": f"{step.step.kind.value} {sk.role}",
                    "reason": step.step.reason,
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
    sort rule reads (sorting/rule.py), or whose spec has a `sort` override, is one library sort step
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
        steps, decls = analyzed(family, entry)
        folds = plan_folds(steps, {d.name for d in decls})
        steps = [Planned(_folded(s.step, f), s.code) for s, f in zip(steps, folds)]
        helpers += _private_helpers(family, steps, helpers)
        if any(isinstance(s.step.form, P.Compaction) for s in steps) and compaction.helper_source() not in helpers:
            helpers.append(compaction.helper_source())
        entries[entry] = P.Entry(
            tuple(family.templates.get(entry, [])), tuple(d.name for d in decls), tuple(s.step for s in steps)
        )
        kernels += _emit_entry(family, entry, steps, decls, folds)
    specializations = {s["symbol"]: _specialization(family, s, kernels) for s in spec["specializations"]}
    plan = P.Plan(family.kernel, tuple(family.messages), entries, specializations, translator_fingerprint(), c_sha256)
    source = _render(spec, helpers, kernels, specializations)
    return Translation(family.kernel, source, plan)


def _folded(step: P.Step, fold: StepFold) -> P.Step:
    """The step as its launches run it: folded into a neighbour (`fold.into`), or its form
    picked on the device."""
    if fold.into is not None:
        step = replace(step, form=replace(step.form, fold=fold.into))
    return replace(step, form_on_device=form_on_device(step, fold))
