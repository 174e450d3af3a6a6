"""Write the results: ``docs/benchmarks.md`` for people, ``bench/results.json`` for programs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from auditledger.bench.model import Figure


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return ""
    text = f"{value:,.2f}" if unit in ("ms", "s") or abs(value) < 100 else f"{value:,.0f}"
    return f"{text} {unit}".strip()


def markdown(machine: dict[str, Any], figures: list[Figure], *, command: str, notes: str) -> str:
    """The benchmark page."""
    lines = [
        "# Benchmarks",
        "",
        f"Produced by `{command}` on {machine['date']}. Every figure is measured against a "
        "baseline in the same run, on the same rows, so the ratio is what to read: absolute "
        "times vary on this shared 2-core machine.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
    ]
    lines += [f"| {key} | {value} |" for key, value in machine.items()]
    lines += [
        "",
        "## Figures",
        "",
        "| engine | figure | value | baseline | ratio | target | met |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in figures:
        baseline = f"{_number(f.baseline, f.unit)} ({f.baseline_label})" if f.baseline else ""
        ratio = f"{f.ratio:.2f}" if f.ratio is not None else ""
        met = {True: "yes", False: "**no**", None: ""}[f.met]
        lines.append(
            f"| {f.engine} | {f.name} | {_number(f.value, f.unit)} | {baseline} | {ratio} | "
            f"{f.target} | {met} |"
        )
    lines += ["", "## Details", ""]
    lines += [f"- **{f.engine}, {f.name}**: {f.detail}" for f in figures if f.detail]
    if notes:
        lines += ["", "## Notes", "", notes.strip()]
    return "\n".join(lines) + "\n"


def write(
    root: Path,
    machine: dict[str, Any],
    figures: list[Figure],
    *,
    command: str,
    notes: str,
    json_name: str,
    markdown_path: Path | None,
) -> None:
    """Write the JSON (always) and the Markdown page (full runs)."""
    (root / "bench").mkdir(exist_ok=True)
    (root / "bench" / json_name).write_text(
        json.dumps(
            {"machine": machine, "command": command, "figures": [f.as_dict() for f in figures]},
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    if markdown_path is not None:
        markdown_path.write_text(
            markdown(machine, figures, command=command, notes=notes), encoding="utf-8"
        )
