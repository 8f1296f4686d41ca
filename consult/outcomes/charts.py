"""Server-rendered SVG charts: vote results, the rating distribution, implementation progress.

Each chart is an ``<svg role="img">`` with a ``<title>`` and a ``<desc>`` that say in words
what the bars show; the pages put a table or a caption with the same numbers beside it.
Every label is escaped; colours are presentation attributes (no inline ``style``, which the
Content Security Policy forbids) and never the only signal: each bar carries its number and
the leading choice a check mark.
"""

from __future__ import annotations

from markupsafe import Markup, escape

WIDTH = 340
ROW = 40
LABEL_W = 104
VALUE_W = 62
BAR_W = WIDTH - LABEL_W - VALUE_W - 6
FILL = "#0b5cad"
FILL_LEAD = "#1b6e2d"
TRACK = "#e4e7eb"
TEXT = "#1a1a1a"


def _short(label: str, limit: int = 6) -> str:
    """Shorten a label for the chart (the table beside it has it in full)."""
    width = 0
    out = []
    for char in label:
        width += 2 if ord(char) > 0x2E80 else 1
        if width > limit * 2 - 2:
            out.append("…")
            break
        out.append(char)
    return "".join(out)


def _format(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def bar_chart(rows, chart_id: str, title: str, description: str, *, max_value=None,
              unit: str = "", lead=None) -> Markup:  # fmt: skip
    """Horizontal bars, one per ``(label, value)`` row.

    ``lead`` names the row to mark as the result (drawn darker, with a check mark);
    ``max_value`` fixes the scale (e.g. 100 for percent); ``unit`` follows each value.
    """
    rows = [(str(label), max(0, value or 0)) for label, value in rows]
    top = max_value if max_value else max([v for _l, v in rows] + [1])
    height = ROW * max(len(rows), 1) + 8
    cid = escape(chart_id)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'preserveAspectRatio="xMinYMin meet" aria-labelledby="{cid}-t {cid}-d">',
        f'<title id="{cid}-t">{escape(title)}</title>',
        f'<desc id="{cid}-d">{escape(description)}</desc>',
    ]
    for index, (label, value) in enumerate(rows):
        y = 4 + index * ROW
        length = 0 if not top else round(BAR_W * min(value, top) / top, 1)
        is_lead = lead is not None and label == str(lead)
        mark = "✓ " if is_lead else ""
        parts.append(
            f'<text x="{LABEL_W - 8}" y="{y + 26}" text-anchor="end" font-size="18" '
            f'fill="{TEXT}">{escape(mark + _short(label))}</text>'
            f'<rect x="{LABEL_W}" y="{y + 6}" width="{BAR_W}" height="{ROW - 12}" '
            f'fill="{TRACK}" rx="3"/>'
            f'<rect x="{LABEL_W}" y="{y + 6}" width="{length}" height="{ROW - 12}" '
            f'fill="{FILL_LEAD if is_lead else FILL}" rx="3"/>'
            f'<text x="{LABEL_W + BAR_W + 8}" y="{y + 26}" font-size="18" font-weight="bold" '
            f'fill="{TEXT}">{escape(_format(value) + unit)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 — every value above is escaped


def vote_chart(decision: dict, chart_id: str, title: str, description: str,
               label=str) -> Markup:  # fmt: skip
    """The counts of one vote, in the order of its choices; ``label`` names a choice."""
    lead = decision.get("result")
    rows = [(label(choice), n) for choice, n in count_rows(decision)]
    lead_label = label(lead) if lead in (decision.get("counts") or {}) else None
    return bar_chart(rows, chart_id, title, description, lead=lead_label)


def count_rows(decision: dict) -> list[tuple[str, int]]:
    counts = decision.get("counts") or {}
    order = [str(o) for o in decision.get("options") or []]
    if not order and decision.get("kind") in (None, "yes_no_abstain"):
        order = [c for c in ("yes", "no", "abstain") if c in counts] or list(counts)
    order += [c for c in counts if c not in order]
    return [(choice, counts.get(choice, 0)) for choice in order]


def rating_chart(distribution: dict, chart_id: str, title: str, description: str) -> Markup:
    rows = [(f"{'★' * n}", distribution.get(str(n), 0)) for n in range(5, 0, -1)]
    return bar_chart(rows, chart_id, title, description)


def progress_chart(percent: int | None, chart_id: str, title: str, label: str) -> Markup:
    return bar_chart(
        [(label, percent or 0)], chart_id, title, f"{percent or 0}%", max_value=100, unit="%"
    )
