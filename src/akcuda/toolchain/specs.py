"""Stage: kernel-specs/*.yml, one per kernel: write them from upstream facts, load, check.

A spec holds facts (names, signatures, types, roles, the source file and its hash, the template
arguments of each exported symbol) and the hand annotations the case generator needs. The
importer rewrites the facts and keeps the annotations.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Any

import yaml

from akcuda import paths
from akcuda.generator.preprocess import preprocess
from akcuda.toolchain import upstream

DIRECTIONS = ("in", "out", "inout")
STATUSES = ("translate", "pending")
# The kernels that sort (std::sort and friends over lambdas and std::vector): each names its
# library sort step in a `sort` override (generator/override.py), the plans report says so.
SORT_FAMILY = {
    "awkward_sort",
    "awkward_argsort",
    "awkward_ListOffsetArray_local_preparenext_64",
    "awkward_ListOffsetArray_argsort_strings",
    "awkward_NumpyArray_sort_asstrings_uint8",
}
ANNOTATIONS = ("generate", "invalid", "notes", "sort")

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
    """symbol -> {kernel, ctypes, dirs} from awkward_cpp's own signature table."""
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


def _upstream_specs(awkward_dir: Path) -> dict[str, dict]:
    """symbol -> specialization entry of upstream kernel-specification.yml."""
    data = yaml.safe_load((awkward_dir / "kernel-specification.yml").read_text())
    return {s["name"]: s for k in data["kernels"] for s in k["specializations"]}


def derive_specs(cpp_dir: Path, awkward_dir: Path) -> dict[str, dict]:
    """The facts of every kernel, as spec mappings (without annotations)."""
    sigs = _signatures()
    roles = _upstream_specs(awkward_dir)
    kernel_dir = cpp_dir / "src" / "cpu-kernels"
    include = cpp_dir / "include"
    symbol_home: dict[str, tuple[Path, list[str], list[str]]] = {}
    for source in sorted(kernel_dir.glob("*.cpp")):
        pp = preprocess(source, [include])
        for symbol, wrapper in pp.wrappers.items():
            symbol_home[symbol] = (source, pp.templates.get(wrapper.target, []), wrapper.template_args)
        for name in re.findall(r"^\s*ERROR\s+(\w+)\s*\(", pp.text, flags=re.M):
            symbol_home.setdefault(name, (source, pp.templates.get(name, []), []))

    specs: dict[str, dict] = {}
    for symbol, sig in sorted(sigs.items()):
        kernel = sig["kernel"]
        source, tparams, targs = symbol_home[symbol]
        spec = specs.setdefault(
            kernel,
            {
                "name": kernel,
                "source": str(source.relative_to(cpp_dir)),
                "sha256": upstream.sha256_of(source),
                "status": "translate",
                "template_params": tparams,
                "specializations": [],
            },
        )
        args = []
        for k, (ctype, direction) in enumerate(zip(sig["ctypes"], sig["dirs"])):
            arg = roles[symbol]["args"][k]
            const = "Const[" in arg["type"] and ctype.endswith("*")
            args.append(
                {
                    "name": arg["name"],
                    "ctype": ("const " if const else "") + ctype,
                    "dir": direction,
                    "role": arg.get("role"),
                }
            )
        spec["specializations"].append({"symbol": symbol, "template_args": targs, "args": args})
    return specs


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


def write_specs(folder: Path | None = None, log=print) -> int:
    """Rewrite every spec's facts, keeping existing hand annotations. Returns files written."""
    folder = folder or paths.SPECS
    folder.mkdir(parents=True, exist_ok=True)
    derived = derive_specs(upstream.cpp_dir(), upstream.awkward_dir())
    for name, spec in derived.items():
        path = folder / f"{name}.yml"
        if path.exists():
            old = load_spec(path)
            for key in ANNOTATIONS:
                if key in old:
                    spec[key] = old[key]
        path.write_text(dump_spec(spec))
    log(
        f"wrote {len(derived)} kernel specs "
        f"({sum(len(s['specializations']) for s in derived.values())} specializations) to {folder}"
    )
    return len(derived)


def check_specs(folder: Path | None = None) -> list[str]:
    """Every difference between the committed specs and upstream's facts (empty: consistent)."""
    committed = load_all(folder)
    derived = derive_specs(upstream.cpp_dir(), upstream.awkward_dir())
    problems = [f"missing spec for kernel {k}" for k in sorted(set(derived) - set(committed))]
    problems += [f"spec for unknown kernel {k}" for k in sorted(set(committed) - set(derived))]
    for name in sorted(set(derived) & set(committed)):
        mine, theirs = committed[name], derived[name]
        for field in ("source", "sha256", "status", "template_params"):
            if mine[field] != theirs[field]:
                problems.append(f"{name}: {field} is {mine[field]!r}, upstream says {theirs[field]!r}")
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
                problems.append(f"{symbol}: {len(have['args'])} args, upstream has {len(special['args'])}")
                continue
            for a, b in zip(have["args"], special["args"]):
                for field in ("name", "ctype", "dir", "role"):
                    if a.get(field) != b.get(field):
                        problems.append(
                            f"{symbol}: arg {b['name']}: {field} is {a.get(field)!r}, upstream says {b.get(field)!r}"
                        )
        problems += [f"{name}: specialization {s} is not upstream" for s in ours]
    return problems


def specializations(specs: dict[str, dict]) -> list[tuple[dict, dict]]:
    """(kernel spec, specialization) pairs, in kernel order."""
    return [(spec, special) for spec in specs.values() for special in spec["specializations"]]


def matches(pattern: str | None, *names: str) -> bool:
    """-k PATTERN: a substring or glob of the kernel name or the symbol."""
    if not pattern:
        return True
    return any(pattern in n or fnmatch.fnmatch(n, pattern) for n in names)
