"""report.html: the same blocks as report.md in one self-contained file (figures inlined as base64 PNG), so
it can be mailed or attached to an issue without the folder beside it."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

from gailrun.report.document import Block, Bullets, Figure, Heading, Para, Table

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.45; }
table { border-collapse: collapse; margin: 0.5em 0 0.3em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f3f3f3; }
figure { margin: 1.5em 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption, .caption { color: #555; font-size: 0.9em; }
code { background: #f5f5f5; padding: 0 0.2em; }
"""


def inline(text: str) -> str:
    """Escape text, turning `code` spans into <code> elements."""
    parts = re.split(r"`([^`]*)`", text)
    return "".join(f"<code>{html.escape(p)}</code>" if i % 2 else html.escape(p) for i, p in enumerate(parts))


def to_html(blocks: list[Block], folder: Path, title: str) -> str:
    body: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            body.append(f"<h{b.level}>{inline(b.text)}</h{b.level}>")
        elif isinstance(b, Para):
            body.append(f"<p>{inline(b.text)}</p>")
        elif isinstance(b, Bullets):
            body.append("<ul>" + "".join(f"<li>{inline(i)}</li>" for i in b.items) + "</ul>")
        elif isinstance(b, Figure):
            data = base64.b64encode((folder / b.file).read_bytes()).decode("ascii")
            body.append(
                f"<figure><h3>{inline(b.title)}</h3>"
                f'<img src="data:image/png;base64,{data}" alt="{html.escape(b.title)}">'
                f"<figcaption>{inline(b.caption)}</figcaption></figure>"
            )
        elif isinstance(b, Table):
            head = "".join(f"<th>{inline(c)}</th>" for c in b.columns)
            rows = "".join("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in r) + "</tr>" for r in b.rows)
            body.append(
                f"<h3>{inline(b.title)}</h3><p class='caption'>{inline(b.caption)}</p>"
                f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
            )
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )
