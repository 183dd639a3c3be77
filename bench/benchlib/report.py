"""The report: numbers for the markdown table, the upstream | onestack | ratio table,
and the result files (raw JSON and the table)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

# (label, upstream value, onestack value, higher_better or None for no ratio, digits)
Row = tuple[str, float | None, float | None, bool | None, int]


def median(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def format_number(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "–"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def format_ratio(up: float | None, ours: float | None, higher_better: bool) -> str:
    """onestack / upstream if higher is better, else upstream / onestack: above 1 is
    always onestack better."""
    if not up or not ours:
        return "–"
    value = ours / up if higher_better else up / ours
    return f"{value:.2f}×" if value < 10 else f"{value:.0f}×" if value >= 100 else \
        f"{value:.1f}×"


def comparison_table(rows: list[Row]) -> list[str]:
    """Markdown lines: measure | upstream | onestack | ratio."""
    lines = ["| measure | upstream | onestack | ratio |", "|---|---:|---:|---:|"]
    for label, up, ours, higher_better, digits in rows:
        ratio = "–" if higher_better is None else format_ratio(up, ours, higher_better)
        lines.append(f"| {label} | {format_number(up, digits)} | "
                     f"{format_number(ours, digits)} | {ratio} |")
    return lines


def write_results(base: Path, report: dict) -> Path:
    """base.json (the whole report) and base.md (its table); returns the JSON path."""
    raw = base.with_suffix(".json")
    raw.write_text(json.dumps(report, indent=1, default=str))
    base.with_suffix(".md").write_text(report["table_md"] + "\n")
    return raw
