"""A DPIA draft (GDPR art. 35(7)) pre-filled from the application, the catalogue, the pre-assessment's
figures and the TRE's own controls as ``docs/security.md`` states them, for the data protection officer
to complete. One document model, rendered to Markdown and to PDF (reportlab).

What the draft cannot know is left as marked gaps ("To be completed by the DPO"): the assessment of
necessity, the residual risk, the data subjects' views and the decision on prior consultation."""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from xml.sax.saxutils import escape

from provisioning.applications.assessment import PreAssessment
from provisioning.applications.content import ApplicationContent
from provisioning.catalogue_meta import DatasetMeta

TODO = "☐ To be completed by the DPO."


# -- the TRE's controls, read from docs/security.md ------------------------------------------------------------


@dataclass(frozen=True)
class Control:
    section: str
    threat: str
    control: str
    tests: tuple[str, ...]


_TEST_REF = re.compile(r"`(tests/[\w/]+\.py::\w+)`")


def _cells(line: str) -> list[str]:
    """Cells split on the pipes outside code spans (a pipe inside one is text to a reader) and not escaped."""
    cells, current = [], []
    for m in re.finditer(r"`[^`]*`|\\\||\||[^|`\\]+|\\|`", line.strip()):
        if m.group(0) == "|":
            cells.append("".join(current))
            current = []
        else:
            current.append(m.group(0))
    cells.append("".join(current))
    return [c.strip().replace("\\|", "|") for c in cells[1:-1]]


def parse_tables(markdown: str) -> dict[str, list[list[str]]]:
    """Every table of a Markdown text, by the heading above it (header row first, separator dropped)."""
    tables: dict[str, list[list[str]]] = {}
    heading = ""
    current: list[list[str]] | None = None
    for line in markdown.splitlines():
        if line.startswith("#"):
            heading, current = line.lstrip("#").strip(), None
            continue
        if line.lstrip().startswith("|"):
            cells = _cells(line)
            if all(re.fullmatch(r":?-{3,}:?", c) for c in cells if c):
                continue
            if current is None:
                current = tables.setdefault(heading, [])
            current.append(cells)
        else:
            current = None
    return tables


def security_controls(markdown: str) -> tuple[list[list[str]], list[Control]]:
    """The Five Safes table and every threat/control row (not the "control removed" proofs) of the
    security document."""
    tables = parse_tables(markdown)
    safes = next((rows for heading, rows in tables.items() if "Five Safes" in heading), [])
    controls = []
    for heading, rows in tables.items():
        if not rows or not rows[0] or not rows[0][0].lower().startswith("threat"):
            continue
        for row in rows[1:]:
            if len(row) < 3 or row[1].startswith("Removed"):
                continue
            controls.append(Control(section=heading, threat=row[0], control=row[1], tests=tuple(_TEST_REF.findall(row[2]))))
    return safes, controls


def load_security_controls(path: Path | None = None) -> tuple[list[list[str]], list[Control]]:
    from sandkasse.settings import get_settings

    # docs/ sits beside policies/ in a checkout and in the service image (/srv/sandkasse)
    doc = path or get_settings().policies_dir.resolve().parent / "docs" / "security.md"
    return security_controls(doc.read_text(encoding="utf-8"))


# -- the document --------------------------------------------------------------------------------------


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
class Table:
    header: list[str]
    rows: list[list[str]]
    widths: list[float] = field(default_factory=list)  # relative column widths for the PDF


Block = Heading | Para | Bullets | Table


@dataclass
class Document:
    title: str
    blocks: list[Block]


def _or(value: object, missing: str = "(not given)") -> str:
    return str(value) if value not in (None, "") else missing


def build(
    content: ApplicationContent, assessment: PreAssessment, catalogue: Mapping[str, DatasetMeta],
    safes: list[list[str]], controls: list[Control], *, reference: str = "", now: datetime | None = None,
) -> Document:
    now = now or datetime.now(timezone.utc)
    b: list[Block] = []
    verdict = "REQUIRED" if assessment.dpia.required else "not required by the screening"
    b += [
        Para(f"Draft prepared automatically by Sandkasse on {now:%Y-%m-%d %H:%M} UTC from application "
             f"{_or(reference, 'without reference')} for the data protection officer (DPO) to complete. "
             f"Figures are aggregates computed inside the TRE on the source data."),
        Table(["", ""], [
            ["Project", content.title], ["Data controller", _or(content.data_controller)],
            ["Period", f"{_or(content.start_date)} to {_or(content.end_date)}"],
            ["DPIA (screening)", verdict], ["Members", f"{len(content.members)} people, invited on approval"],
        ], widths=[1, 3]),
        Heading("1. Systematic description of the processing (art. 35(7)(a))"),
        Heading("Purpose", 3), Para(_or(content.purpose)),
        Heading("Legal basis", 3),
        Bullets([f"GDPR art. {content.legal_basis_art6.value}" if content.legal_basis_art6 else "GDPR art. 6: (not given)",
                 f"GDPR art. {content.legal_basis_art9.value}" if content.legal_basis_art9 else "GDPR art. 9: none given",
                 f"National provision: {_or(content.national_provision)}",
                 f"Funding: {_or(content.funding)}", f"Ethics approval (REK): {_or(content.rek_reference, 'none given')}"]),
        Heading("Datasets", 3),
        Table(["dataset", "classification", "owning unit", "rows", "data subjects", "legal basis of collection"], [
            [m.title + f" ({m.name})", m.classification, m.owning_unit, f"{m.rows:,}" if m.rows else "", m.data_subjects, m.legal_basis]
            for m in (catalogue.get(n) for n in content.datasets) if m is not None
        ], widths=[2, 1.2, 1.2, 0.8, 1, 3]),
    ]
    suggested = {d.dataset: d.suggested for d in assessment.datasets}
    for name, ask in content.datasets.items():
        meta = catalogue.get(name)
        rows = []
        for col, c in ask.columns.items():
            column = meta.column(col) if meta else None
            rows.append([col, column.role.value if column else "unknown", column.meaning if column else "",
                         c.transformation, suggested.get(name, {}).get(col, ""), c.justification or "(none)"])
        b += [Heading(f"Columns asked from {name}", 3),
              Table(["column", "role", "meaning", "asked", "suggested", "justification"], rows, widths=[1.2, 1.2, 2.2, 1.1, 1.1, 2.2])]

    b += [Heading("2. Necessity and proportionality (art. 35(7)(b))"),
          Para("Data-minimisation findings of the automatic pre-assessment:")]
    findings = [f"[{f.severity}] {f.dataset}{'.' + f.column if f.column else ''}: {f.message}" for f in assessment.findings]
    b += [Bullets(findings or ["No finding: every column is justified, no direct identifier is kept."]),
          Para("Is each column necessary for the purpose, and could the purpose be reached with less (aggregates, "
               "a shorter period, coarser categories)? " + TODO)]

    b += [Heading("3. Risks to the rights and freedoms of data subjects (art. 35(7)(c))"),
          Heading("DPIA screening", 3), Bullets(assessment.dpia.reasons),
          Table(["criterion", "source", "met", "evidence"],
                [[c.title, c.source, "yes" if c.met else "no", c.evidence] for c in assessment.dpia.criteria],
                widths=[3, 1, 0.5, 3]),
          Heading("Re-identification risk of the extracts", 3),
          Para("k: size of the smallest group of records sharing their quasi-identifier values; l: fewest "
               "distinct values of a sensitive column within such a group (risk report, provisioning/risk.py)."),
          ]
    rows = []
    for d in assessment.datasets:
        for label, f in (("as asked", d.as_asked), ("as suggested", d.as_suggested)):
            if f is None:
                continue
            l_text = ", ".join(f"{c}: {v}" for c, v in f.l.items()) or "-"
            rows.append([d.dataset, label, f"{f.records:,}", _or(f.people, "-"), " + ".join(f.quasi_identifiers) or "-",
                         f"{f.k} (min {f.policy_min_k})", f"{f.records_below_k:,} ({f.share_below_k:.1%})", l_text])
    b += [Table(["dataset", "extract", "records", "people", "quasi-identifiers", "k", "records below k", "l"], rows,
                widths=[1, 1, 0.8, 0.7, 2.2, 0.9, 1.1, 1.3]),
          Para("Likelihood and severity of each risk (unlawful access, re-identification, function creep, "
               "disclosure in published results): " + TODO)]

    b += [Heading("4. Measures to address the risks (art. 35(7)(d))"),
          Para("The TRE's controls, as docs/security.md states them; each is proved by the tests named there.")]
    if safes:
        b.append(Table(safes[0], safes[1:], widths=[1, 1.5, 4]))
    for section in dict.fromkeys(c.section for c in controls):
        rows = [[c.threat, c.control, str(len(c.tests))] for c in controls if c.section == section]
        b += [Heading(section, 3), Table(["threat", "control", "tests"], rows, widths=[3, 4, 0.6])]
    b += [Para("Project-specific measures (e.g. row filter, shorter period, extra generalisation): " + TODO)]

    b += [Heading("5. The DPO's assessment"),
          Bullets([f"Residual risk after the measures: {TODO}",
                   f"Prior consultation with Datatilsynet needed (art. 36)? {TODO}",
                   f"Views of the data subjects or their representatives (art. 35(9)), e.g. the employee representatives: {TODO}",
                   f"Advice of the DPO (art. 35(2)): {TODO}"]),
          Para("Date and signature of the DPO: ______________________    Controller's representative: ______________________")]
    return Document(title=f"DPIA draft: {content.title}", blocks=b)


# -- Markdown ----------------------------------------------------------------------------------------


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(doc: Document) -> str:
    out = [f"# {doc.title}", ""]
    for block in doc.blocks:
        if isinstance(block, Heading):
            out += ["#" * block.level + " " + block.text, ""]
        elif isinstance(block, Para):
            out += [block.text, ""]
        elif isinstance(block, Bullets):
            out += [f"- {item}" for item in block.items] + [""]
        elif isinstance(block, Table):
            out.append("| " + " | ".join(_md_cell(h) for h in block.header) + " |")
            out.append("|" + "---|" * len(block.header))
            out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in block.rows]
            out.append("")
    return "\n".join(out)


# -- PDF ----------------------------------------------------------------------------------------------

_DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
# symbols outside the fallback font (reportlab's Vera covers Latin-1 only)
_ASCII = str.maketrans({"→": "->", "⇄": "<->", "✖": "x", "∅": "(none)", "☐": "[ ]", "≥": ">=", "≤": "<=", "…": "..."})


_registered: list[bool] = []  # [covers symbols], once the fonts are registered


def _fonts() -> tuple[str, str, str, bool]:
    """Regular, bold and monospace font names, registered once; True when the fonts cover symbols."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if not _registered:
        if (_DEJAVU / "DejaVuSans.ttf").is_file():
            files = (_DEJAVU / "DejaVuSans.ttf", _DEJAVU / "DejaVuSans-Bold.ttf", _DEJAVU / "DejaVuSansMono.ttf")
        else:  # reportlab's own Bitstream Vera
            import reportlab

            base = Path(reportlab.__file__).parent / "fonts"
            files = (base / "Vera.ttf", base / "VeraBd.ttf", base / "Vera.ttf")
        for name, path in zip(("SkSans", "SkSans-Bold", "SkMono"), files, strict=True):
            pdfmetrics.registerFont(TTFont(name, str(path)))
        _registered.append(files[0].parent == _DEJAVU)
    return "SkSans", "SkSans-Bold", "SkMono", _registered[0]


def _inline(text: str, mono: str, rich: bool) -> str:
    """Plain text (with Markdown `code` and **bold**) as reportlab paragraph markup."""
    if not rich:
        text = text.translate(_ASCII)
    text = escape(text)
    text = re.sub(r"`([^`]+)`", lambda m: f'<font face="{mono}">{m.group(1)}</font>', text)
    return re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", text)


def to_pdf(doc: Document) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import ListFlowable, ListItem, Paragraph, SimpleDocTemplate, Spacer
    from reportlab.platypus import Table as PdfTable
    from reportlab.platypus import TableStyle

    regular, bold, mono, rich = _fonts()
    body = ParagraphStyle("body", fontName=regular, fontSize=9, leading=12, spaceAfter=4)
    cell = ParagraphStyle("cell", parent=body, fontSize=7.5, leading=9.5, spaceAfter=0)
    head_cell = ParagraphStyle("head", parent=cell, fontName=bold)
    headings = {1: ParagraphStyle("h1", parent=body, fontName=bold, fontSize=16, leading=20, spaceAfter=8),
                2: ParagraphStyle("h2", parent=body, fontName=bold, fontSize=12.5, leading=16, spaceBefore=10, spaceAfter=5),
                3: ParagraphStyle("h3", parent=body, fontName=bold, fontSize=10.5, leading=13, spaceBefore=6, spaceAfter=3)}
    buffer = io.BytesIO()
    page = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=16 * mm, rightMargin=16 * mm, topMargin=16 * mm,
                             bottomMargin=16 * mm, title=doc.title, author="Sandkasse (draft for the DPO)",
                             subject="Data protection impact assessment (GDPR art. 35)")
    width = A4[0] - 32 * mm
    story: list = [Paragraph(_inline(doc.title, mono, rich), headings[1])]
    for block in doc.blocks:
        if isinstance(block, Heading):
            story.append(Paragraph(_inline(block.text, mono, rich), headings[min(block.level, 3)]))
        elif isinstance(block, Para):
            story.append(Paragraph(_inline(block.text, mono, rich), body))
        elif isinstance(block, Bullets):
            story.append(ListFlowable([ListItem(Paragraph(_inline(i, mono, rich), body), leftIndent=10) for i in block.items],
                                      bulletType="bullet", start="•", leftIndent=10, bulletFontName=regular))
        elif isinstance(block, Table):
            weights = block.widths or [1] * len(block.header)
            widths = [width * w / sum(weights) for w in weights]
            header = [[Paragraph(_inline(h, mono, rich), head_cell) for h in block.header]] if any(block.header) else []
            data = header + [[Paragraph(_inline(str(c), mono, rich), cell) for c in row] for row in block.rows]
            if not data:
                continue
            table = PdfTable(data, colWidths=widths, repeatRows=1 if header else 0)
            table.setStyle(TableStyle([
                ("GRID", (0, 0), (-1, -1), 0.25, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                *([("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8"))] if header else []),
            ]))
            story += [table, Spacer(1, 4)]
    page.build(story)
    return buffer.getvalue()


def draft(
    content: ApplicationContent, assessment: PreAssessment, catalogue: Mapping[str, DatasetMeta], *,
    reference: str = "", security_doc: Path | None = None, now: datetime | None = None,
) -> tuple[str, bytes]:
    """The DPIA draft as (Markdown, PDF bytes)."""
    safes, controls = load_security_controls(security_doc)
    doc = build(content, assessment, catalogue, safes, controls, reference=reference, now=now)
    return to_markdown(doc), to_pdf(doc)
