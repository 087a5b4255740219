"""A report as a list of sections of plain blocks (paragraphs, tables, plots), rendered to one
self-contained HTML file or to a PDF.

The PDF is drawn with matplotlib's PdfPages (already a dependency for the plots): A4 pages, text
wrapped to the page, tables with fixed column widths and wrapped cells that continue on the next
page, plots drawn straight into the page. No HTML-to-PDF engine is needed (WeasyPrint would pull
in Pango and cairo for one feature), and the PDF's plots are vector graphics.

Text may cite a reference as "[key]": HTML turns it into a link to the references list, the PDF
keeps the bracket.
"""

from __future__ import annotations

import base64
import datetime
import html
import io
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

MAX_TABLE_COLUMNS = 8  # wider tables do not fit a portrait A4 page: split them
PAGE_W_IN, PAGE_H_IN = 8.27, 11.69  # A4 portrait
MARGIN_IN = 0.6
BODY_FONT_PT = 8.5
TABLE_FONT_PT = 7.5
LINE_IN = 0.16
TABLE_LINE_IN = 0.135
KEEP_WITH_TITLE_IN = 1.6  # a section title needs this much room below it on the same page

Cell = str | tuple[str, str]  # text, or (text, css class: "flag" or "ok")


@dataclass
class Table:
    headers: list[str]
    rows: list[list[Cell]]

    def __post_init__(self) -> None:
        if len(self.headers) > MAX_TABLE_COLUMNS:
            raise ValueError(f"{len(self.headers)} columns do not fit the page (at most {MAX_TABLE_COLUMNS})")


@dataclass
class Plot:
    """A single-axes plot: draw(ax) fills it; height in inches at the page's width."""

    draw: Callable
    height_in: float = 2.8


@dataclass
class Section:
    key: str
    title: str
    blocks: list = field(default_factory=list)  # str paragraphs, Table, Plot

    def add(self, *blocks) -> Section:
        self.blocks.extend(blocks)
        return self


@dataclass
class Document:
    title: str
    sections: list[Section]
    banner: str = ""  # shown above everything (simulated data)
    references: dict[str, str] = field(default_factory=dict)  # key -> citation


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _cell_text(cell: Cell) -> str:
    return cell if isinstance(cell, str) else cell[0]


# ---------------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------------
_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1000px; color: #222; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: .6em 0; width: 100%; table-layout: fixed; }
td, th { border: 1px solid #ddd; padding: .25em .5em; text-align: left; overflow-wrap: anywhere; vertical-align: top; }
th { background: #f4f4f4; } .flag { color: #b00; font-weight: 600; } .ok { color: #070; }
.sim { background: #fff3cd; border: 1px solid #e0c060; padding: .5em 1em; } img { max-width: 100%; }
.note { color: #555; font-size: .9em; }
@page { size: A4; margin: 15mm; }
@media print { body { max-width: none; margin: 0; font-size: 10pt; } section { break-inside: auto; } }
"""


def _html_text(text: str, known: dict[str, str]) -> str:
    escaped = html.escape(text)

    def link(match: re.Match) -> str:
        key = match.group(1)
        return f'<a href="#ref-{key}">[{key}]</a>' if key in known else match.group(0)

    return re.sub(r"\[([a-z]+[0-9]{4})\]", link, escaped)


def _html_cell(cell: Cell, known: dict[str, str], tag: str = "td") -> str:
    if isinstance(cell, str):
        return f"<{tag}>{_html_text(cell, known)}</{tag}>"
    text, cls = cell
    return f'<{tag}><span class="{cls}">{_html_text(text, known)}</span></{tag}>'


def plot_png(plot: Plot, width_in: float = 10.0) -> bytes:
    """The plot as PNG bytes (also used by tests to look at what a plot shows)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(width_in, plot.height_in))
    try:
        plot.draw(ax)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    finally:
        plt.close(fig)
    return buffer.getvalue()


def render_html(doc: Document) -> str:
    """The document as one self-contained HTML page (plots embedded as PNG)."""
    generated = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    parts = [
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(doc.title)}</title><style>{_CSS}</style></head><body>\n"
        f"<h1>{html.escape(doc.title)}</h1>\n<p class=\"note\">Generated {generated} by StepSync.</p>\n"
    ]
    if doc.banner:
        parts.append(f'<p class="sim" id="simulated">{html.escape(doc.banner)}</p>\n')
    for section in doc.sections:
        body = []
        for block in section.blocks:
            if isinstance(block, str):
                body.append(f"<p>{_html_text(block, doc.references)}</p>")
            elif isinstance(block, Table):
                head = "".join(_html_cell(h, doc.references, "th") for h in block.headers)
                rows = "".join("<tr>" + "".join(_html_cell(c, doc.references) for c in row) + "</tr>"
                               for row in block.rows)
                body.append(f"<table><tr>{head}</tr>{rows}</table>")
            elif isinstance(block, Plot):
                data = base64.b64encode(plot_png(block)).decode("ascii")
                body.append(f'<img alt="plot" src="data:image/png;base64,{data}">')
        if section.key == "references":
            items = "".join(f'<li id="ref-{k}"><b>[{k}]</b> {html.escape(v)}</li>' for k, v in doc.references.items())
            body.append(f"<ol>{items}</ol>")
        parts.append(f'<section id="{section.key}"><h2>{html.escape(section.title)}</h2>\n' + "\n".join(body)
                     + "\n</section>\n")
    parts.append("</body></html>\n")
    return "".join(parts)


# ---------------------------------------------------------------------------------------------
# PDF
# ---------------------------------------------------------------------------------------------
_MEASURE: dict = {}


def _text_width_in(text: str, size: float, weight: str = "normal") -> float:
    """Rendered width of a line of text in inches (Agg font metrics, same fonts as the PDF)."""
    if "renderer" not in _MEASURE:
        from matplotlib.backends.backend_agg import RendererAgg

        _MEASURE["renderer"] = RendererAgg(100, 100, 72)
    from matplotlib.font_manager import FontProperties

    key = (size, weight)
    if key not in _MEASURE:
        _MEASURE[key] = FontProperties(size=size, weight=weight)
    width, _, _ = _MEASURE["renderer"].get_text_width_height_descent(text, _MEASURE[key], ismath=False)
    return width / 72.0


def fit_lines(text: str, width_in: float, size: float, weight: str = "normal") -> list[str]:
    """Greedy word wrap by measured width; a word longer than the line is cut."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            candidate = f"{line} {word}" if line else word
            if _text_width_in(candidate, size, weight) <= width_in:
                line = candidate
                continue
            if line:
                lines.append(line)
            while _text_width_in(word, size, weight) > width_in and len(word) > 1:
                cut = len(word)
                while cut > 1 and _text_width_in(word[:cut], size, weight) > width_in:
                    cut -= 1
                lines.append(word[:cut])
                word = word[cut:]
            line = word
        lines.append(line)
    return lines


class _PdfWriter:
    """Flows blocks down A4 pages of a PdfPages file; every text is wrapped to fit."""

    def __init__(self, pdf, title: str) -> None:
        self.pdf = pdf
        self.title = title
        self.page = None
        self.y = 0.0  # inches from the top of the page
        self.pages = 0
        self.overflows: list[str] = []  # text that would cross the page edge (tests: must stay [])

    def _new_page(self) -> None:
        plt = _pyplot()
        self._finish_page()
        self.page = plt.figure(figsize=(PAGE_W_IN, PAGE_H_IN))
        self.pages += 1
        self.y = MARGIN_IN
        self.page.text(PAGE_W_IN - MARGIN_IN, PAGE_H_IN - 0.35, f"{self.title}  |  page {self.pages}",
                       ha="right", va="top", fontsize=6.5, color="#777", transform=self.page.dpi_scale_trans)

    def _finish_page(self) -> None:
        if self.page is not None:
            self._check_extents()
            self.pdf.savefig(self.page)
            _pyplot().close(self.page)
            self.page = None

    def _check_extents(self) -> None:
        renderer = self.page.canvas.get_renderer()
        width, height = self.page.bbox.width, self.page.bbox.height
        for text in self.page.texts:
            box = text.get_window_extent(renderer)
            if box.x0 < -1 or box.x1 > width + 1 or box.y0 < -1 or box.y1 > height + 1:
                self.overflows.append(text.get_text())

    def keep(self, height_in: float) -> None:
        """Start a new page unless height_in inches are left on this one."""
        self._room(height_in)

    def _room(self, height_in: float) -> None:
        if self.page is None or self.y + height_in > PAGE_H_IN - MARGIN_IN:
            self._new_page()

    def text(self, text: str, size: float = BODY_FONT_PT, weight: str = "normal", colour: str = "#222",
             gap_in: float = 0.06) -> None:
        lines = fit_lines(text, PAGE_W_IN - 2 * MARGIN_IN, size, weight)
        line_in = LINE_IN * size / BODY_FONT_PT
        for line in lines:
            self._room(line_in)
            self.page.text(MARGIN_IN, PAGE_H_IN - self.y, line, ha="left", va="top", fontsize=size,
                           weight=weight, color=colour, transform=self.page.dpi_scale_trans)
            self.y += line_in
        self.y += gap_in

    def table(self, table: Table) -> None:
        usable = PAGE_W_IN - 2 * MARGIN_IN
        n = len(table.headers)
        lengths = [max([len(table.headers[i])] + [len(_cell_text(r[i])) for r in table.rows]) for i in range(n)]
        weights = [min(max(length, 4), 40) for length in lengths]
        widths = [usable * w / sum(weights) for w in weights]

        def draw_row(cells: list[Cell], header: bool) -> None:
            weight = "bold" if header else "normal"
            wrapped = [fit_lines(_cell_text(c), widths[i] - 0.08, TABLE_FONT_PT, weight) for i, c in enumerate(cells)]
            height = max(len(w) for w in wrapped) * TABLE_LINE_IN + 0.04
            if not header and self.y + height > PAGE_H_IN - MARGIN_IN:
                self._new_page()
                draw_row(list(table.headers), True)  # a table continued on a new page repeats its header
            self._room(height)
            x = MARGIN_IN
            for i, lines in enumerate(wrapped):
                cell = cells[i]
                colour = "#b00" if (not isinstance(cell, str) and cell[1] == "flag") else (
                    "#070" if not isinstance(cell, str) else "#222")
                self.page.text(x + 0.03, PAGE_H_IN - self.y - 0.02, "\n".join(lines), ha="left", va="top",
                               fontsize=TABLE_FONT_PT, weight="bold" if header else "normal", color=colour,
                               linespacing=1.15, transform=self.page.dpi_scale_trans)
                x += widths[i]
            self.y += height
            line_y = (PAGE_H_IN - self.y) / PAGE_H_IN
            self.page.add_artist(_line(MARGIN_IN / PAGE_W_IN, (PAGE_W_IN - MARGIN_IN) / PAGE_W_IN, line_y))

        draw_row(list(table.headers), True)
        for row in table.rows:
            draw_row(row, False)
        self.y += 0.1

    def plot(self, plot: Plot) -> None:
        height = plot.height_in * 0.8
        self._room(height + 0.45)
        left, width = MARGIN_IN + 0.55, PAGE_W_IN - 2 * MARGIN_IN - 0.7
        bottom = PAGE_H_IN - self.y - height
        ax = self.page.add_axes([left / PAGE_W_IN, bottom / PAGE_H_IN, width / PAGE_W_IN, height / PAGE_H_IN])
        plot.draw(ax)
        ax.tick_params(labelsize=6.5)
        ax.xaxis.label.set_size(7)
        ax.yaxis.label.set_size(7)
        legend = ax.get_legend()
        if legend is not None:
            for text in legend.get_texts():
                text.set_fontsize(6)
        self.y += height + 0.45

    def close(self) -> None:
        self._finish_page()


def _line(x0: float, x1: float, y: float):
    from matplotlib.lines import Line2D

    return Line2D([x0, x1], [y, y], lw=0.3, color="#ccc")


def render_pdf(doc: Document, path: Path) -> dict:
    """Write the document as a PDF; returns {"pages", "overflows"} (overflows: text that crossed a
    page edge, which the layout should make impossible)."""
    from matplotlib.backends.backend_pdf import PdfPages

    _pyplot()
    with PdfPages(str(path), metadata={"Title": doc.title, "Creator": "StepSync"}) as pdf:
        writer = _PdfWriter(pdf, doc.title)
        writer.text(doc.title, size=14, weight="bold", gap_in=0.1)
        writer.text(f"Generated {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')} by StepSync.",
                    size=7, colour="#555")
        if doc.banner:
            writer.text(doc.banner, weight="bold", colour="#8a6d00")
        for section in doc.sections:
            first = section.blocks[0] if section.blocks else None
            # No title alone at the foot of a page: keep it with its first plot, or a few lines.
            writer.keep(first.height_in * 0.8 + 0.75 if isinstance(first, Plot) else KEEP_WITH_TITLE_IN)
            writer.text(section.title, size=11, weight="bold", gap_in=0.08)
            for block in section.blocks:
                if isinstance(block, str):
                    writer.text(block)
                elif isinstance(block, Table):
                    writer.table(block)
                elif isinstance(block, Plot):
                    writer.plot(block)
            if section.key == "references":
                for key, citation in doc.references.items():
                    writer.text(f"[{key}] {citation}", size=7.5)
        writer.close()
    return {"pages": writer.pages, "overflows": writer.overflows}


def write_private(path: Path, data: bytes | str) -> Path:
    """Write a report file readable by its owner only (health data, like the database)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data.encode("utf-8") if isinstance(data, str) else data)
    return path
