"""Stage: turn one C++ kernel source into plain C that pycparser reads.

The C preprocessor (g++ -E) expands macros (the WRAPPER families, FILENAME(__LINE__)) and
leaves `# line "file"` markers that pycparser honours, so every AST coordinate points at the
original file and line. The rewrites below never add or remove a newline, for the same reason.
What C cannot say is kept in side tables (template parameters, explicit template arguments at
call sites, the exported wrappers) so the emitter can say it again in CUDA C++.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from akcuda.generator.frontend.cxx import PreprocessError, lower

STUBS = Path(__file__).with_name("stubs")
# The shared sources whose functions every kernel file may call: helpers, not kernels.
HELPER_SOURCES = ("kernel-utils.cpp", "unicode.cpp")

# Names pycparser must know as types; the emitter prints them back unchanged.
PRELUDE_TYPES = {
    "int8_t": "signed char",
    "uint8_t": "unsigned char",
    "int16_t": "short",
    "uint16_t": "unsigned short",
    "int32_t": "int",
    "uint32_t": "unsigned int",
    "int64_t": "long long",
    "uint64_t": "unsigned long long",
    "size_t": "unsigned long",
    "bool": "_Bool",
    "ERROR": "int",
    "akc_auto": "int",
}


@dataclass
class Wrapper:
    """An exported symbol that forwards to a template kernel with fixed arguments."""

    symbol: str
    target: str
    template_args: list[str]
    params: list[tuple[str, str]] = field(default_factory=list)  # (C type, name) of each parameter


@dataclass
class Exported:
    """A plain exported function (no template behind it): its name and parameters."""

    symbol: str
    params: list[tuple[str, str]]


@dataclass
class Preprocessed:
    path: Path
    text: str
    templates: dict[str, list[str]] = field(default_factory=dict)
    wrappers: dict[str, Wrapper] = field(default_factory=dict)
    call_template_args: dict[tuple[int, str], list[str]] = field(default_factory=dict)
    template_specializations: list[str] = field(default_factory=list)
    exported: dict[str, Exported] = field(default_factory=dict)
    lambdas: dict[str, tuple[str, ...]] = field(default_factory=dict)  # lifted lambda -> its captures (cxx.py)


def _blank(text: str) -> str:
    """Same text with every character but newlines turned into a space."""
    return re.sub(r"[^\n]", " ", text)


def _line_map(text: str) -> list[int]:
    """Output line index -> original line number, from the `# N "file"` markers."""
    out, current = [], 1
    for raw in text.split("\n"):
        marker = re.match(r'#\s*(\d+)\s+"', raw)
        if marker:
            out.append(0)
            current = int(marker.group(1))
        else:
            out.append(current)
            current += 1
    return out


def run_cpp(path: Path, include_dirs: list[Path]) -> str:
    """Expand macros with the system C preprocessor; standard headers are empty stubs."""
    cmd = ["g++", "-E", "-x", "c++", "-nostdinc", "-undef", "-I", str(STUBS)]
    for folder in include_dirs:
        cmd += ["-I", str(folder)]
    cmd += ["-D", "FILENAME_FOR_EXCEPTIONS_C(f,l)=l", str(path)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise PreprocessError(f"{path}: the C preprocessor failed: {proc.stderr.strip()}")
    return proc.stdout


def _matching_paren(text: str, open_at: int) -> int:
    depth = 0
    for pos in range(open_at, len(text)):
        if text[pos] == "(":
            depth += 1
        elif text[pos] == ")":
            depth -= 1
            if depth == 0:
                return pos
    raise PreprocessError(f"unbalanced parenthesis at offset {open_at}")


_TEMPLATE = re.compile(r"\btemplate\s*<([^<>]*)>")
_WRAPPER = re.compile(r"\bERROR\s+(\w+)\s*\(([^()]*)\)\s*\{\s*return\s+(\w+)\s*(?:<([^<>]*)>)?\s*\([^;]*\)\s*;\s*\}")
_STATIC_CAST = re.compile(r"\bstatic_cast\s*<([^<>]*)>\s*\(")
_TEMPLATE_CALL = re.compile(r"\b(\w+)\s*<([^<>;()]*)>\s*\(")
_BRACE_INIT = re.compile(r"\b(\w+)\s*\{([^{}]*)\}")


def _split_args(text: str) -> list[str]:
    return [" ".join(part.split()) for part in text.split(",") if part.strip()]


def _param_types(params: str) -> list[str]:
    """Base type of each parameter in a parameter list: 'const T* __restrict__ x' -> 'T'."""
    out = []
    for param in _split_args(params):
        words = [w for w in re.findall(r"\w+", param) if w not in ("const", "__restrict__")]
        out.append(words[0] if words else "")
    return out


def parameters(params: str) -> list[tuple[str, str]]:
    """(C type, name) of each parameter: 'const int32_t* __restrict__ starts' -> ('const int32_t*', 'starts');
    an unnamed one has the name ''."""
    out = []
    for param in _split_args(params):
        words = [w for w in re.findall(r"\w+", param) if w not in ("__restrict__", "restrict")]
        typed = [w for w in words if w != "const"]
        # an unnamed parameter (`int64_t` alone) has only its type words: its name is ""
        name = typed.pop() if len(typed) > 1 else ""
        const = "const " if "const" in words and "*" in param else ""
        out.append((f"{const}{' '.join(typed)}{'*' * param.count('*')}", name))
    return out


_PLAIN_EXPORT = re.compile(r"^\s*ERROR\s+(\w+)\s*\(([^()]*)\)\s*\{", flags=re.M)


def _deduce(tparams: list[str], text: str, target: str, wrapper_params: str) -> list[str]:
    """Template arguments of a wrapper that calls `target(...)` without naming them."""
    definition = re.search(rf"\b{target}\s*\(([^()]*)\)\s*\{{", text)
    if definition is None:
        raise PreprocessError(f"cannot find the definition of template {target}")
    pairs = dict(zip(_param_types(definition.group(1)), _param_types(wrapper_params)))
    missing = [p for p in tparams if p not in pairs]
    if missing:
        raise PreprocessError(f"cannot deduce template parameter {missing[0]} of {target}")
    return [pairs[p] for p in tparams]


def preprocess(path: Path, include_dirs: list[Path]) -> Preprocessed:
    """Read one kernel source and return parseable C plus the side tables."""
    lowered = lower(run_cpp(path, include_dirs))
    text = lowered.text
    out = Preprocessed(path=path, text="", lambdas=lowered.lambdas)

    # Full specializations (`template <>`) belong to the sort family, which needs a sorting
    # library rather than this translator; note them so the caller can say so.
    for match in re.finditer(r"\btemplate\s*<\s*>\s*[^{;]*?\b(\w+)\s*<", text):
        out.template_specializations.append(match.group(1))

    wrappers = list(_WRAPPER.finditer(text))
    text = _WRAPPER.sub(lambda m: _blank(m.group(0)), text)

    def template_decl(match: re.Match) -> str:
        params = [p.split()[-1] for p in _split_args(match.group(1))]
        head = re.match(r"\s*(?:inline\s+)?[\w:]+[\s*&]+(\w+)\s*\(", text[match.end() :])
        if head and params:
            out.templates[head.group(1)] = params
        return _blank(match.group(0))

    text = _TEMPLATE.sub(template_decl, text)
    for match in wrappers:
        symbol, params, target, targs = match.groups()
        if targs is None:
            targs = ", ".join(_deduce(out.templates.get(target, []), text, target, params))
        out.wrappers[symbol] = Wrapper(symbol, target, _split_args(targs), parameters(params))
    targets = {w.target for w in out.wrappers.values()}
    for match in _PLAIN_EXPORT.finditer(text):
        symbol = match.group(1)
        if symbol not in out.templates and symbol not in targets:
            out.exported[symbol] = Exported(symbol, parameters(match.group(2)))

    while (match := _STATIC_CAST.search(text)) is not None:
        close = _matching_paren(text, match.end() - 1)
        inner = text[match.end() : close]
        text = f"{text[: match.start()]}(({match.group(1)})({inner}){text[close:]}"
    lines = _line_map(text)

    def template_call(match: re.Match) -> str:
        name = match.group(1)
        if name not in out.templates:
            return match.group(0)
        line = lines[text.count("\n", 0, match.start())]
        out.call_template_args[(line, name)] = _split_args(match.group(2))
        return f"{name}("

    text = _TEMPLATE_CALL.sub(template_call, text)
    type_names = set(PRELUDE_TYPES) | {p for ps in out.templates.values() for p in ps}
    text = _BRACE_INIT.sub(
        lambda m: f"(({m.group(1)})({m.group(2).strip() or 0}))" if m.group(1) in type_names else m.group(0), text
    )
    text = re.sub(r"\b__restrict__\b", "restrict", text)
    text = re.sub(r"\bauto\b", "akc_auto", text)
    text = re.sub(r"\bstd::(\w+)", r"std_\1", text)

    typedefs = [f"typedef {c} {name};" for name, c in PRELUDE_TYPES.items()]
    params = sorted({p for ps in out.templates.values() for p in ps} - set(PRELUDE_TYPES))
    typedefs += [f"typedef int {p};" for p in params]
    out.text = '# 1 "<akcuda-prelude>"\n' + "\n".join(typedefs) + "\n" + text
    return out
