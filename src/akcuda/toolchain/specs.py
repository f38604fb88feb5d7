"""Stage: kernel-specs/*.yml, one per kernel: write them from upstream facts, load, check.

A spec holds facts (names, signatures, types, roles, the source file and its hash, the template
arguments of each exported symbol) and the hand annotations the case generator needs. The
importer rewrites the facts and keeps the annotations.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from akcuda import paths
from akcuda.generator.frontend.preprocess import preprocess
from akcuda.toolchain import upstream

DIRECTIONS = ("in", "out", "inout")
STATUSES = ("translate", "pending")
# The kernels that sort (std::sort and friends over lambdas and std::vector): the sort rule
# (generator/sorting/rule.py) reads their library sort step from the C++, or, where a kernel's shape
# defeats it, the spec names it in a `sort` override (generator/sorting/override.py); the plans report
# says which.
SORT_FAMILY = {
    "awkward_sort",
    "awkward_argsort",
    "awkward_ListOffsetArray_local_preparenext_64",
    "awkward_ListOffsetArray_argsort_strings",
    "awkward_NumpyArray_sort_asstrings_uint8",
}
# What the C says of a kernel (derived again by `akcuda specs`, every other key an annotation) and,
# with RUNTIME_FACTS, what a kernel store carries of each spec for the runtime.
FACTS = ("name", "source", "sha256", "status", "pending_reason", "template_params", "specializations")
RUNTIME_FACTS = (*FACTS, "recursion")  # the argument bounding a recursive helper's depth: the cuda stack

_CTYPE_NAMES = {
    "c_bool": "bool",
    "c_int8": "int8_t",
    "c_uint8": "uint8_t",
    "c_int16": "int16_t",
    "c_uint16": "uint16_t",
    "c_int32": "int32_t",
    "c_uint32": "uint32_t",
    "c_int64": "int64_t",
    "c_uint64": "uint64_t",
    "c_float": "float",
    "c_double": "double",
    "c_byte": "int8_t",
    "c_ubyte": "uint8_t",
    "c_short": "int16_t",
    "c_ushort": "uint16_t",
    "c_int": "int32_t",
    "c_uint": "uint32_t",
    "c_long": "int64_t",
    "c_ulong": "uint64_t",
    "c_longlong": "int64_t",
    "c_ulonglong": "uint64_t",
}


class SpecError(ValueError):
    """A malformed spec: names the file, line and field."""


# ---------------------------------------------------------------- loading with line numbers


class _LineDict(dict):
    lines: dict[str, int]


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    def construct_mapping(self, node, deep=False):
        mapping = _LineDict(super().construct_mapping(node, deep=True))
        mapping.lines = {k.value: k.start_mark.line + 1 for k, _ in node.value}
        mapping.lines["<start>"] = node.start_mark.line + 1
        return mapping


_Loader.add_constructor("tag:yaml.org,2002:map", lambda loader, node: loader.construct_mapping(node))


def _fail(path: Path, where: dict, field: str, problem: str) -> None:
    line = getattr(where, "lines", {}).get(
        field.split(".")[-1].split("[")[0], getattr(where, "lines", {}).get("<start>", 0)
    )
    raise SpecError(f"{path}:{line}: field '{field}': {problem}")


def _require(path: Path, mapping: Any, field: str, kind: type, prefix: str = "") -> Any:
    name = f"{prefix}{field}"
    if not isinstance(mapping, dict) or field not in mapping:
        _fail(path, mapping if isinstance(mapping, dict) else {}, name, "missing")
    value = mapping[field]
    if not isinstance(value, kind):
        _fail(path, mapping, name, f"expected {kind.__name__}, got {type(value).__name__}")
    return value


def load_spec(path: Path) -> dict:
    """Load and validate one spec; a malformed one raises SpecError naming file, line and field."""
    try:
        data = yaml.load(Path(path).read_text(), Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise SpecError(f"{path}:{mark.line + 1 if mark else 0}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise SpecError(f"{path}:1: field '<root>': expected a mapping")
    for field in ("name", "source", "sha256", "status"):
        _require(path, data, field, str)
    if data["status"] not in STATUSES:
        _fail(path, data, "status", f"expected one of {STATUSES}")
    _require(path, data, "template_params", list)
    for i, special in enumerate(_require(path, data, "specializations", list)):
        where = f"specializations[{i}]."
        _require(path, special, "symbol", str, where)
        _require(path, special, "template_args", list, where)
        for j, arg in enumerate(_require(path, special, "args", list, where)):
            at = f"{where}args[{j}]."
            for field in ("name", "ctype", "dir"):
                _require(path, arg, field, str, at)
            if arg["dir"] not in DIRECTIONS:
                _fail(path, arg, f"{at}dir", f"expected one of {DIRECTIONS}, got {arg['dir']!r}")
    if "recursion" in data:  # {depth: NAME}: the integer argument that bounds the recursion depth
        depth = _require(path, data, "recursion", dict).get("depth")
        for special in data["specializations"]:
            ctypes_ = {a["name"]: a["ctype"] for a in special["args"]}
            if ctypes_.get(depth) not in ("int64_t", "int32_t"):
                _fail(path, data, "recursion", f"depth must name an integer argument of {special['symbol']}")
    return data


def load_all(folder: Path | None = None) -> dict[str, dict]:
    """Every spec in the folder, by kernel name."""
    folder = folder or paths.SPECS
    specs = {}
    for path in sorted(folder.glob("*.yml")):
        spec = load_spec(path)
        if spec["name"] != path.stem:
            _fail(path, spec, "name", f"{spec['name']!r} does not match the file name")
        specs[spec["name"]] = spec
    return specs


# ---------------------------------------------------------------- deriving the facts


def ctype_name(ctype: Any) -> str:
    """ctypes type -> C spelling: POINTER(POINTER(c_int64)) -> 'int64_t**'."""
    stars = ""
    while hasattr(ctype, "_type_") and not isinstance(ctype._type_, str):
        stars += "*"
        ctype = ctype._type_
    return _CTYPE_NAMES[ctype.__name__] + stars


def _signatures() -> dict[str, dict]:
    """symbol -> {kernel, ctypes, dirs} from the installed awkward_cpp's signature table."""
    from awkward_cpp._kernel_signatures import by_signature
    from awkward_cpp.cpu_kernels import lib

    out = {}
    for key, func in by_signature(lib).items():
        out[func.__name__] = {
            "kernel": key[0],
            "ctypes": [ctype_name(t) for t in func.argtypes],
            "dirs": list(func.dir),
        }
    return out


def _upstream_specs(awkward_dir: Path) -> tuple[dict[str, dict], dict[str, str]]:
    """(symbol -> specialization entry, symbol -> kernel name) of upstream kernel-specification.yml."""
    data = yaml.safe_load((awkward_dir / "kernel-specification.yml").read_text())
    entries = {s["name"]: s for k in data["kernels"] for s in k["specializations"]}
    return entries, {s["name"]: k["name"] for k in data["kernels"] for s in k["specializations"]}


def _declared(include: Path) -> set[str]:
    """The symbols kernels.h declares (an awkward checkout without its generated files has none)."""
    header = include / "awkward" / "kernels.h"
    return set(re.findall(r"\b(awkward_\w+)\s*\(", header.read_text())) if header.is_file() else set()


def _c_direction(ctype: str) -> str:
    """What the C type says: a const pointer or a scalar is read, any other pointer written."""
    return "out" if ctype.endswith("*") and not ctype.startswith("const ") else "in"


@dataclass
class Derived:
    """Spec facts derived from the C, and per kernel what a person must still do or annotate."""

    specs: dict[str, dict]
    todo: dict[str, list[str]] = dataclasses.field(default_factory=dict)


def _wanted(pattern: str | None, path: Path, known: dict[str, set[str]]) -> bool:
    return matches(pattern, path.stem, *known.get(path.name, ()))


def derive_specs(
    sources: upstream.Sources | None = None, pattern: str | None = None, only: Iterable[Path] | None = None
) -> Derived:
    """The facts of every kernel (matching `pattern`), from its own C: exported symbols (WRAPPER
    lines or plain exported functions), template parameters and arguments, argument C types and
    names; directions and roles from kernel-specification.yml where it has the symbol, else from
    the C types. What the C cannot say, or upstream's tables lack, goes to `todo`. `only`: just
    these kernel files."""
    sources = sources or upstream.active()
    entries, kernel_of = _upstream_specs(sources.awkward)
    declared = _declared(sources.include)
    known: dict[str, set[str]] = {}  # file name -> kernels the committed specs say it holds
    for path in sorted(paths.SPECS.glob("*.yml")):
        source = re.search(r"^source:\s*(\S+)", path.read_text(), flags=re.M)
        if source:
            known.setdefault(Path(source.group(1)).name, set()).add(path.stem)
    out = Derived({})
    unspecified: dict[str, list[str]] = {}  # kernel -> its symbols kernel-specification.yml lacks
    undeclared: dict[str, list[str]] = {}  # kernel -> its symbols kernels.h lacks
    chosen = set(only) if only is not None else None
    for name, path in sources.kernel_files().items():
        if (chosen is not None and path not in chosen) or not _wanted(pattern, path, known):
            continue
        pp = preprocess(path, [sources.include])
        found = [(w.symbol, pp.templates.get(w.target, []), w.template_args, w.params) for w in pp.wrappers.values()]
        found += [(e.symbol, [], [], e.params) for e in pp.exported.values()]
        for symbol, tparams, targs, params in sorted(found):
            kernel = kernel_of.get(symbol, path.stem)
            if not matches(pattern, kernel, symbol, path.stem):
                continue
            spec = out.specs.setdefault(
                kernel,
                {
                    "name": kernel,
                    "source": f"src/cpu-kernels/{name}",
                    "sha256": upstream.sha256_of(path),
                    "status": "translate",
                    "template_params": tparams,
                    "specializations": [],
                },
            )
            todo = out.todo.setdefault(kernel, [])
            entry = entries.get(symbol)
            if entry is None:
                unspecified.setdefault(kernel, []).append(symbol)
            if symbol not in declared:
                undeclared.setdefault(kernel, []).append(symbol)
            args = []
            for k, (ctype, cname) in enumerate(params):
                theirs = entry["args"][k] if entry and k < len(entry["args"]) else {}
                if not (cname or theirs):
                    todo.append(f"{symbol}: argument {k} has no name in the C: name it")
                args.append(
                    {
                        "name": theirs.get("name") or cname or f"arg{k}",
                        "ctype": ctype,
                        "dir": theirs.get("dir") or _c_direction(ctype),
                        "role": theirs.get("role"),
                    }
                )
            spec["specializations"].append({"symbol": symbol, "template_args": targs, "args": args})
    for kernel, symbols in unspecified.items():
        out.todo[kernel].append(
            f"add {', '.join(symbols)} to awkward's kernel-specification.yml; until then the directions "
            "are guessed from const (a non-const pointer is 'out': say 'inout' in the spec for one the kernel "
            "also reads) and the roles are unknown"
        )
    for kernel, symbols in undeclared.items():
        out.todo[kernel].append(
            f"declare {', '.join(symbols)} in include/awkward/kernels.h (awkward-cpp's build generates it "
            "from kernel-specification.yml)"
        )
    return out


def library_differences(derived: Derived) -> list[str]:
    """Where the C disagrees with the installed awkward_cpp's signature table (a changed kernel
    then has its reference built from source; an unchanged one should never disagree)."""
    sigs = _signatures()
    problems = []
    for spec in derived.specs.values():
        for special in spec["specializations"]:
            sig = sigs.get(special["symbol"])
            if sig is None:
                continue
            ours = [a["ctype"].removeprefix("const ") for a in special["args"]]
            if ours != sig["ctypes"]:
                problems.append(
                    f"{special['symbol']}: the C takes ({', '.join(ours)}), the installed "
                    f"awkward_cpp ({', '.join(sig['ctypes'])})"
                )
            elif [a["dir"] for a in special["args"]] != sig["dirs"]:
                problems.append(f"{special['symbol']}: directions differ from the installed awkward_cpp's")
    return problems


def scaffold(spec: dict) -> dict:
    """A first `generate` recipe from the argument types of the first specialization: inputs
    random in [0, 10), outputs of length n, integer scalars n. Marked `scaffold: true` until a
    person has checked that every expression honours the kernel's preconditions."""
    exprs = {}
    for arg in spec["specializations"][0]["args"]:
        name, stars = arg["ctype"].removeprefix("const ").rstrip("*"), arg["ctype"].count("*")
        if stars == 2:
            exprs[arg["name"]] = "outs(1, n)" if arg["dir"] == "out" else "[randint(0, 10, n)]"
        elif stars == 1:
            exprs[arg["name"]] = (
                "out(n)"
                if arg["dir"] == "out"
                else "floats(n)"
                if name in ("float", "double")
                else "bools(n)"
                if name == "bool"
                else "randint(0, 10, n)"
            )
        else:
            exprs[arg["name"]] = "False" if name == "bool" else "1.0" if name in ("float", "double") else "n"
    return {"scaffold": True, "let": {}, "args": exprs}


# ---------------------------------------------------------------- writing and checking


class _Dumper(yaml.SafeDumper):
    pass


def _represent_dict(dumper, data):
    flow = all(not isinstance(v, (dict, list)) for v in data.values()) and "ctype" in data
    return dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=flow)


def _represent_list(dumper, data):
    flow = all(isinstance(v, str) for v in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(dict, _represent_dict)
_Dumper.add_representer(_LineDict, _represent_dict)
_Dumper.add_representer(list, _represent_list)


def dump_spec(spec: dict) -> str:
    return (
        "# akcuda kernel spec: facts derived from awkward-cpp 57 by `akcuda specs`;\n"
        "# annotations below them are written by hand and kept on regeneration.\n"
        + yaml.dump(spec, Dumper=_Dumper, sort_keys=False, width=100)
    )


def merged(derived: dict, old: dict | None) -> dict:
    """The derived facts, then every annotation of the old spec in its order; a new kernel gets
    a scaffolded `generate` recipe."""
    spec = dict(derived)
    if old is None:
        spec["generate"] = scaffold(derived)
        return spec
    for key, value in old.items():
        if key not in FACTS:
            spec[key] = value
    return spec


def write_specs(
    folder: Path | None = None,
    log=print,
    pattern: str | None = None,
    sources: upstream.Sources | None = None,
    only: Iterable[Path] | None = None,
) -> Derived:
    """Rewrite the facts of every (matching) kernel's spec from its C, keeping hand annotations;
    a file whose text would not change is not touched, nor any file of a kernel not matched."""
    folder = folder or paths.SPECS
    folder.mkdir(parents=True, exist_ok=True)
    derived = derive_specs(sources, pattern, only)
    if (pattern or only) and not derived.specs:
        raise SpecError(f"-k {pattern or ''}: matches no kernel of {(sources or upstream.active()).kernel_dir}")
    changed = []
    for name, facts in derived.specs.items():
        path = folder / f"{name}.yml"
        old = load_spec(path) if path.exists() else None
        spec = merged(facts, old)
        if spec != old:  # by content: hand-written YAML that says the same is left as it is
            path.write_text(dump_spec(spec))
            changed.append(name)
    n = sum(len(s["specializations"]) for s in derived.specs.values())
    log(
        f"specs: {len(derived.specs)} kernel(s), {n} specialization(s) derived from the C; "
        f"{len(changed)} file(s) written in {folder}"
        + (f" ({', '.join(changed[:5])}{', …' if len(changed) > 5 else ''})" if changed else "")
    )
    return derived


def check_specs(folder: Path | None = None, pattern: str | None = None) -> list[str]:
    """Every difference between the committed specs and the facts of the C (empty: consistent)."""
    committed = {k: v for k, v in load_all(folder).items() if matches(pattern, k)}
    derived = derive_specs(pattern=pattern).specs
    fix = "run `akcuda specs -k {}`"
    problems = [f"missing spec for kernel {k}: {fix.format(k)}" for k in sorted(set(derived) - set(committed))]
    problems += [
        f"spec for unknown kernel {k}: no C file defines it (a contributor's kernel: pass its file, "
        f"`akcuda port FILE.cpp`, or list it under [tool.akcuda] kernels)"
        for k in sorted(set(committed) - set(derived))
    ]
    for name in sorted(set(derived) & set(committed)):
        mine, theirs = committed[name], derived[name]
        if mine["sha256"] != theirs["sha256"]:
            problems.append(
                f"{name}: its C changed (sha256 {theirs['sha256'][:12]}, the spec says "
                f"{mine['sha256'][:12]}): {fix.format(name)}"
            )
        for field_name in ("source", "status", "template_params"):
            if mine[field_name] != theirs[field_name]:
                problems.append(f"{name}: {field_name} is {mine[field_name]!r}, the C says {theirs[field_name]!r}")
        ours = {s["symbol"]: s for s in mine["specializations"]}
        for special in theirs["specializations"]:
            symbol = special["symbol"]
            if symbol not in ours:
                problems.append(f"{name}: missing specialization {symbol}")
                continue
            have = ours.pop(symbol)
            if have["template_args"] != special["template_args"]:
                problems.append(f"{symbol}: template_args {have['template_args']} != {special['template_args']}")
            if len(have["args"]) != len(special["args"]):
                problems.append(f"{symbol}: {len(have['args'])} args, the C has {len(special['args'])}")
                continue
            for a, b in zip(have["args"], special["args"]):
                for field_name in ("name", "ctype", "dir", "role"):
                    if a.get(field_name) != b.get(field_name):
                        problems.append(
                            f"{symbol}: arg {b['name']}: {field_name} is {a.get(field_name)!r}, "
                            f"upstream says {b.get(field_name)!r}"
                        )
        problems += [f"{name}: specialization {s} is not in its C" for s in ours]
    return problems


def specializations(specs: dict[str, dict]) -> list[tuple[dict, dict]]:
    """(kernel spec, specialization) pairs, in kernel order."""
    return [(spec, special) for spec in specs.values() for special in spec["specializations"]]


def matches(pattern: str | frozenset[str] | None, *names: str) -> bool:
    """-k PATTERN: a substring or glob of the kernel name or the symbol; a set of names (what
    `akcuda port` chose) matches exactly."""
    if not pattern:
        return True
    if isinstance(pattern, frozenset):
        return any(n in pattern for n in names)
    return any(pattern in n or fnmatch.fnmatch(n, pattern) for n in names)
