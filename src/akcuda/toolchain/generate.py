"""Stage: translate every chosen kernel family into build/generated/ (a .cu file and its plan)."""

from __future__ import annotations

from pathlib import Path

from akcuda import paths, plan
from akcuda.generator.translate import translate
from akcuda.progress import progress
from akcuda.toolchain import specs, upstream


def generate(pattern: str | None = None, out: Path | None = None) -> dict[str, str | None]:
    """Translate every matching kernel; kernel -> None on success, else the reason."""
    out = out or paths.GENERATED
    out.mkdir(parents=True, exist_ok=True)
    sources = upstream.active()
    chosen = [s for s in specs.load_all().values() if s["status"] == "translate" and specs.matches(pattern, s["name"])]
    results: dict[str, str | None] = {}
    with progress() as bar:
        task = bar.add_task("translate", total=len(chosen), item="")
        for spec in chosen:
            bar.update(task, item=spec["name"])
            try:
                located = {**spec, "source": str(sources.file(spec["source"]))}  # a contributor's file, else the tree's
                translation = translate(located, sources.kernel_dir, sources.include)
            except Exception as exc:  # TranslationError names kernel, file:line and construct
                results[spec["name"]] = str(exc)
            else:
                (out / f"{spec['name']}.cu").write_text(translation.source)
                plan.save(translation.plan, out / f"{spec['name']}.plan.json")
                results[spec["name"]] = None
            bar.advance(task)
    return results
