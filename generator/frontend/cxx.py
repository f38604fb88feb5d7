"""The C++ pre-pass: lower the few C++ constructs of the sorting kernels into C that pycparser
reads, on the preprocessed text (after g++ -E, before the template rewrites of preprocess.py).

Every transform keeps the text's newlines where they were, or marks where moved text came from
with a `# line "file"` marker, so every AST node still points at its original file and line.
What C cannot say (which parameters of a lifted lambda are its captures) goes to a side table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


class PreprocessError(Exception):
    """A source the pre-pass cannot read: names file, line and construct."""


@dataclass
class Lowered:
    text: str
    lambdas: dict[str, tuple[str, ...]] = field(default_factory=dict)  # lifted name -> its captures


def _position(text: str, offset: int) -> tuple[int, str]:
    """The original (line, file) of `offset`, from the `# N "file"` markers before it."""
    line, file = 1, "?"
    for raw in text[:offset].split("\n")[:-1]:
        marker = re.match(r'#\s*(\d+)\s+"([^"]*)"', raw)
        if marker:
            line, file = int(marker.group(1)), marker.group(2)
        else:
            line += 1
    return line, file


def _closing(text: str, open_at: int, pair: str) -> int:
    """The offset of the bracket closing the one at `open_at` ('()' or '{}')."""
    depth = 0
    for pos in range(open_at, len(text)):
        if text[pos] == pair[0]:
            depth += 1
        elif text[pos] == pair[1]:
            depth -= 1
            if depth == 0:
                return pos
    line, file = _position(text, open_at)
    raise PreprocessError(f"{file}:{line}: unbalanced {pair!r}")


def if_constexpr(text: str) -> str:
    """`if constexpr (std::is_integral_v<T>)` -> `if (std::is_integral_v((T)0))`: both branches
    stay, the type trait becomes a call on a value of the type (the rules read it as such)."""
    text = re.sub(r"\bif\s+constexpr\b", "if", text)
    return re.sub(r"\b(std::\w+_v)\s*<([^<>]*)>(?!\s*\()", r"\1((\2)0)", text)


def vectors(text: str) -> str:
    """`std::vector<int64_t> index(length);` -> `int64_t* index = std::vector(length);` and
    `std::vector<int64_t> index;` -> `int64_t* index = std::vector();`: a scratch array whose
    size the rules read from the call."""
    return re.sub(
        r"\bstd::vector\s*<\s*([\w:]+)\s*>\s+(\w+)\s*(?:\(([^;()]*)\))?\s*;",
        lambda m: f"{m.group(1)}* {m.group(2)} = std::vector({m.group(3) or ''});",
        text,
    )


def range_for(text: str) -> None:
    """A range-based `for (const auto& x : v)` has no C form: the pre-pass names it and stops."""
    match = re.search(r"\bfor\s*\(([^;()]*[^:]):([^:][^;()]*)\)", text)
    if match:
        line, file = _position(text, match.start())
        head = " ".join(match.group(0).split())
        raise PreprocessError(f"{file}:{line}: range-based for ({head}), which has no C form")


def value_templates(text: str) -> None:
    """A template over values (`template <bool is_stable>`) has no C form here (its parameters
    are no types): the pre-pass names it and stops."""
    for match in re.finditer(r"\btemplate\s*<([^<>]*)>", text):
        values = [p for p in match.group(1).split(",") if p.split() and p.split()[0] not in ("typename", "class")]
        if values:
            line, file = _position(text, match.start())
            value = " ".join(values[0].split())
            raise PreprocessError(f"{file}:{line}: template value parameter {value}, which has no C form")


_LAMBDA = re.compile(r"(?<=[(,=])(\s*)\[([^\[\]]*)\]\s*\(")


def lambdas(text: str) -> Lowered:
    """Lift each lambda into a named static function after the code, taking its captures as
    parameters first; the lambda's place holds the name (with its newlines kept).

        std::sort(a, b, [fromptr](int64_t i1, int64_t i2) { return fromptr[i1] < fromptr[i2]; });
    ->  std::sort(a, b, akc_lambda_0);
        ...
        # 12 "file.cpp"
        static auto akc_lambda_0(auto fromptr, int64_t i1, int64_t i2) { return fromptr[i1] < fromptr[i2]; }

    By-reference captures (`&x`) are parameters like the others; a default capture (`[=]`,
    `[&]`) names nothing, so it is refused."""
    lifted: list[str] = []
    out = Lowered(text)
    while (match := _LAMBDA.search(out.text)) is not None:
        start = match.start() + len(match.group(1))
        captures = tuple(c.strip().lstrip("&").strip() for c in match.group(2).split(",") if c.strip())
        line, file = _position(out.text, start)
        if any(not re.fullmatch(r"\w+", c) for c in captures):
            raise PreprocessError(f"{file}:{line}: lambda with capture [{match.group(2)}], which names no variable")
        close = _closing(out.text, match.end() - 1, "()")
        returns = re.compile(r"\s*(?:->\s*([\w:]+)\s*)?").match(out.text, close + 1)
        brace = returns.end()
        if out.text[brace : brace + 1] != "{":
            raise PreprocessError(f"{file}:{line}: lambda without a body")
        end = _closing(out.text, brace, "{}")
        name = f"akc_lambda_{len(lifted)}"
        params = ", ".join([f"auto {c}" for c in captures] + [out.text[match.end() : close].strip()])
        body_line, body_file = _position(out.text, brace)
        head = f"static {returns.group(1) or 'auto'} {name}({params}) "
        lifted.append(f'# {body_line} "{body_file}"\n{head}{out.text[brace : end + 1]}\n')
        out.lambdas[name] = captures
        out.text = out.text[:start] + name + "\n" * out.text.count("\n", start, end + 1) + out.text[end + 1 :]
    out.text = out.text + "\n" + "".join(lifted)
    return out


def lower(text: str) -> Lowered:
    """The lowering transforms above, on g++ -E output (C without these constructs is unchanged)."""
    return lambdas(vectors(if_constexpr(text)))


def unlowerable(text: str) -> None:
    """Name the first construct of g++ -E output that the lowering leaves C cannot read (the
    sort rule asks before it parses; other kernels never contain one)."""
    range_for(text)
    value_templates(text)
