"""Stage: one kernel family's C++ source -> one CUDA file plus its plan manifest.

parse (preprocess + pycparser) -> analyze (plan steps) -> emit (CudaGenerator + Jinja2).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import jinja2
from pycparser import c_ast, c_parser

from akcuda.generator.analyze import Step, plan_steps
from akcuda.generator.loops import INTEGER_TYPES, type_names, uses
from akcuda.generator.cuda_generator import CudaGenerator, Normalizer, TranslationError
from akcuda.generator.preprocess import Preprocessed, preprocess
from akcuda.generator.steps import step_kernels

TEMPLATES = Path(__file__).with_name("templates")
HELPER_SOURCES = ("kernel-utils.cpp", "unicode.cpp")


@dataclass
class Parsed:
    pp: Preprocessed
    functions: dict[str, c_ast.FuncDef]


@dataclass
class Translation:
    kernel: str
    source: str
    plan: dict


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


def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), keep_trailing_newline=True,
                              trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)


def _called(func: c_ast.FuncDef) -> list[str]:
    return [c.name.name for c in uses(func.body).calls if isinstance(c.name, c_ast.ID)]


def _template_header(params: list[str]) -> str:
    return f"template <{', '.join('typename ' + p for p in params)}>\n" if params else ""


def _pointer_params(func: c_ast.FuncDef) -> bool:
    params = func.decl.type.args.params if func.decl.type.args else []
    return any(isinstance(p.type, c_ast.PtrDecl) for p in params)


def translate(spec: dict, kernel_dir: Path, include_dir: Path) -> Translation:
    """Translate the kernel family described by `spec` (a kernel-spec mapping)."""
    kernel = spec["name"]
    path = kernel_dir / Path(spec["source"]).name
    parsed = parse(path, [include_dir])
    library = _helper_library(kernel_dir, include_dir)
    templates = dict(parsed.pp.templates)
    call_targs = {}
    for other in [p for _, p in library.values()] + [parsed]:
        templates.update(other.pp.templates)
        call_targs.update({(str(other.pp.path), line, name): targs
                           for (line, name), targs in other.pp.call_template_args.items()})

    entries: dict[str, list[str]] = {}
    for special in spec["specializations"]:
        symbol = special["symbol"]
        wrapper = parsed.pp.wrappers.get(symbol)
        if wrapper is not None:
            entries.setdefault(wrapper.target, [])
        elif symbol in parsed.functions:
            entries.setdefault(symbol, [])
        else:
            raise TranslationError(kernel, None, f"exported symbol {symbol} (no definition found)")

    local = {name: f for name, f in parsed.functions.items() if name not in entries
             and name not in parsed.pp.wrappers}
    available = {**{n: f for n, (f, _) in library.items()}, **local}
    helpers_order: list[str] = []

    def visit(name: str, seen: set[str]) -> None:
        if name in seen or name not in available:
            return
        seen.add(name)
        for callee in _called(available[name]):
            visit(callee, seen)
        helpers_order.append(name)

    seen: set[str] = set()
    for target in entries:
        for callee in _called(parsed.functions[target]):
            visit(callee, seen)
    writing = {n for n in available if _pointer_params(available[n])}

    messages: list[str] = []
    helpers = []
    for name in helpers_order:
        gen = CudaGenerator(kernel, call_targs, messages)
        text = gen.visit(available[name])
        helpers.append(_template_header(templates.get(name, [])) + "__device__ " + text)

    kernels, plan_entries, roles = [], {}, {}
    for target in entries:
        func = parsed.functions[target]
        params = func.decl.type.args.params if func.decl.type.args else []
        scalars = {p.name for p in params if isinstance(p.type, c_ast.TypeDecl)}
        targets_args = [parsed.pp.wrappers[s["symbol"]].template_args for s in spec["specializations"]
                        if s["symbol"] in parsed.pp.wrappers and parsed.pp.wrappers[s["symbol"]].target == target]
        tparams = templates.get(target, [])
        steps, decls = plan_steps(func, scalars, writing, {p.name for p in params} - scalars,
                                  functools.partial(_integral, params, tparams, targets_args),
                                  functools.partial(_integral_type, tparams, targets_args))
        plan_entries[target] = {
            "template_params": templates.get(target, []),
            "locals": [d.name for d in decls],
            "steps": [_step_record(s) for s in steps],
        }
        gen = CudaGenerator(kernel, call_targs, messages)
        param_text = ", ".join(gen._generate_decl(p) for p in params)
        for k, step in enumerate(steps):
            def make_gen(mode: str, k=k) -> CudaGenerator:
                made = CudaGenerator(kernel, call_targs, messages, step=k, mode=mode)
                made.in_kernel, made.indent_level, made.spilled = True, 2, bool(decls)
                return made

            for sk in step_kernels(make_gen, step, decls):
                name = f"{target}__s{k}" + ("" if sk.role == "main" else f"_{sk.role}")
                roles.setdefault(target, {}).setdefault(k, []).append((sk.role, name))
                kernels.append({
                    "name": name, "target": target, "step": k, "kind": f"{step.kind} {sk.role}",
                    "reason": step.reason, "template": _template_header(templates.get(target, [])),
                    "params": param_text, "body": sk.body,
                })

    specializations, name_expressions = [], []
    plan_specs = {}
    for special in spec["specializations"]:
        symbol = special["symbol"]
        wrapper = parsed.pp.wrappers.get(symbol)
        target = wrapper.target if wrapper else symbol
        targs = wrapper.template_args if wrapper else []
        suffix = f"<{', '.join(targs)}>" if targs else ""
        steps = [{role: {"expression": f"{name}{suffix}", "host": f"akc_host__{symbol}__{name[len(target) + 2:]}"}
                  for role, name in roles[target][k]} for k in sorted(roles[target])]
        launches = [kernel for step in steps for kernel in step.values()]
        name_expressions += [launch["expression"] for launch in launches]
        ctypes = [a["ctype"].replace("const ", "") for a in special["args"]]
        specializations.append({"symbol": symbol, "launches": launches, "ctypes": ctypes})
        plan_specs[symbol] = {"target": target, "template_args": targs, "steps": steps}

    env = _environment()
    source = env.get_template("kernel.cu.j2").render(
        kernel=kernel, source=spec["source"], sha256=spec["sha256"],
        prelude=(TEMPLATES / "prelude.cuh").read_text(), helpers=helpers, kernels=kernels,
        specializations=specializations)
    plan = {"kernel": kernel, "messages": messages, "name_expressions": name_expressions,
            "entries": plan_entries, "specializations": plan_specs}
    return Translation(kernel, source, plan)


def _step_record(step: Step) -> dict:
    line = step.stmts[0].coord.line if step.stmts and step.stmts[0].coord else None
    return {"kind": step.kind, "count": step.count, "reason": step.reason, "line": line, "guard": step.guard, "checked": step.checked,
            "segments": step.segments, "requires": step.requires, "first": step.first,
            "counters": [{"kind": c.kind, "name": c.name, "place": c.place, "op": c.op, "base": c.base}
                         for c in step.counters]}


def _integral(params: list, tparams: list[str], targets_args: list[list[str]], array: str) -> bool:
    """Is the element type of pointer parameter `array` an integer in every specialization?"""
    param = next((p for p in params if p.name == array), None)
    names = type_names(param) if param is not None else []
    return bool(names) and _integral_type(tparams, targets_args, names[-1])


def _integral_type(tparams: list[str], targets_args: list[list[str]], name: str) -> bool:
    """Is type `name` (maybe a template parameter) an integer in every specialization?"""
    if name in tparams:
        position = tparams.index(name)
        return bool(targets_args) and all(a[position] in INTEGER_TYPES for a in targets_args)
    return name in INTEGER_TYPES
