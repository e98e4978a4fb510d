"""A report as a list of blocks (headings, paragraphs, figures, tables) rendered to Markdown, and each
table's raw numbers to CSV.

Keeping the content in one structure lets report.md and report.html say exactly the same thing.
Paragraph text may use `backticks` for code; nothing else is interpreted.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gailrun.report.stats import Interval


@dataclass
class Heading:
    text: str
    level: int = 2


@dataclass
class Para:
    text: str


@dataclass
class Bullets:
    items: list[str]


@dataclass
class Figure:
    file: str  # PNG name inside the report folder
    title: str
    caption: str


@dataclass
class Table:
    name: str  # the CSV file's stem
    title: str
    caption: str
    columns: list[str]
    rows: list[list[str]]  # formatted cells, as shown
    records: list[dict[str, Any]] = field(default_factory=list)  # raw values, as written to CSV


Block = Heading | Para | Bullets | Figure | Table


def fmt(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def fmt_ci(value: float | None, ci: Interval, digits: int = 1) -> str:
    """`12.3 [10.1, 14.0]`, or `12.3 (n=1, no interval)`: a point estimate with its 95% interval.

    The method is named once, in the column's header (`stats.ci_header`), not in every cell.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if not ci.exists:
        return f"{fmt(value, digits)} ({ci.describe()})"
    return f"{fmt(value, digits)} [{fmt(ci.low, digits)}, {fmt(ci.high, digits)}]"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(blocks: list[Block]) -> str:
    lines: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            lines += ["#" * b.level + " " + b.text, ""]
        elif isinstance(b, Para):
            lines += [b.text, ""]
        elif isinstance(b, Bullets):
            lines += [f"- {item}" for item in b.items] + [""]
        elif isinstance(b, Figure):
            lines += [f"### {b.title}", "", f"![{b.title}]({b.file})", "", b.caption, ""]
        elif isinstance(b, Table):
            lines += [f"### {b.title}", "", b.caption, ""]
            lines.append("| " + " | ".join(_md_cell(c) for c in b.columns) + " |")
            lines.append("| " + " | ".join("---" for _ in b.columns) + " |")
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in b.rows]
            lines += ["", f"CSV: [{b.name}.csv]({b.name}.csv)", ""]
    return "\n".join(lines).rstrip() + "\n"


def write_csv(path: Path, records: list[dict[str, Any]]) -> None:
    keys: list[str] = []
    for r in records:
        keys += [k for k in r if k not in keys]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys)
    writer.writeheader()
    for r in records:
        writer.writerow({k: _csv_value(r.get(k)) for k in keys})
    path.write_text(buf.getvalue())


def _csv_value(v: Any) -> Any:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, list | tuple):
        return " ".join(str(x) for x in v)
    return v
