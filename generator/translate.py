"""Stage: one kernel family's C++ source -> one CUDA file plus its plan manifest.

parse (preprocess + pycparser) -> analyze (plan steps) -> emit (CudaGenerator + Jinja2).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import jinja2
from pycparser import c_ast, c_parser

from generator.analyze import Step, plan_steps, uses
from generator.cuda_generator import CudaGenerator, Normalizer, TranslationError
from generator.preprocess import Preprocessed, preprocess

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

    kernels, plan_entries = [], {}
    for target in entries:
        func = parsed.functions[target]
        params = func.decl.type.args.params if func.decl.type.args else []
        scalars = {p.name for p in params if isinstance(p.type, c_ast.TypeDecl)}
        steps = plan_steps(func, scalars, writing, {p.name for p in params} - scalars)
        plan_entries[target] = {
            "template_params": templates.get(target, []),
            "steps": [_step_record(s) for s in steps],
        }
        gen = CudaGenerator(kernel, call_targs, messages)
        param_text = ", ".join(gen._generate_decl(p) for p in params)
        for k, step in enumerate(steps):
            kernels.append({
                "name": f"{target}__s{k}", "target": target, "step": k, "kind": step.kind,
                "reason": step.reason, "template": _template_header(templates.get(target, [])),
                "params": param_text, "body": _step_body(kernel, step, k, call_targs, messages),
            })

    specializations, name_expressions = [], []
    plan_specs = {}
    for special in spec["specializations"]:
        symbol = special["symbol"]
        wrapper = parsed.pp.wrappers.get(symbol)
        target = wrapper.target if wrapper else symbol
        targs = wrapper.template_args if wrapper else []
        suffix = f"<{', '.join(targs)}>" if targs else ""
        steps = [{"expression": f"{target}__s{k}{suffix}", "host": f"akc_host__{symbol}__s{k}"}
                 for k in range(len(plan_entries[target]["steps"]))]
        name_expressions += [s["expression"] for s in steps]
        ctypes = [a["ctype"].replace("const ", "") for a in special["args"]]
        specializations.append({"symbol": symbol, "steps": steps, "ctypes": ctypes})
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
    return {"kind": step.kind, "count": step.count, "reason": step.reason, "line": line}


def _step_body(kernel: str, step: Step, k: int, call_targs: dict, messages: list[str]) -> str:
    gen = CudaGenerator(kernel, call_targs, messages, step=k)
    gen.in_kernel = True
    gen.indent_level = 2
    if step.kind == "serial":
        return "".join(gen._generate_stmt(s) for s in step.stmts)
    loop = step.loop
    decl = loop.init.decls[0]
    head = f"  {gen._generate_type(decl.type)} = ({gen._visit_expr(decl.init)}) + akc_tid;\n"
    gen.continue_returns = True
    body = loop.stmt.block_items if isinstance(loop.stmt, c_ast.Compound) else [loop.stmt]
    return head + "".join(gen._generate_stmt(s) for s in body or [])
