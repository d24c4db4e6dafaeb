"""Inline SVG charts of the per-SDK pass/fail history, rendered on the server.

They need no script, stylesheet, font or network: an HTML page that carries them renders
the same from file://, from S3 and inside the Airflow UI. Colours are attributes, not CSS,
so the charts look the same wherever they are embedded.

Both charts take `analytics.pass_fail_history` entries (sdk, logical_date, status, run_id,
counts, pass_rate) and lay the SDKs out on one shared axis of logical dates (one column per
distinct logical date, oldest first). SDK names, dates and link targets are untrusted: every
one is escaped, and links keep only relative, http(s) and file URLs.

Stable hooks for tests and for styling by an embedding page: ``svg.heatmap`` with one
``rect.heat-cell`` per SDK per date (``data-sdk``, ``data-date``, ``data-status``), and
``svg.trend`` with one ``polyline.trend-line`` per SDK (``data-sdk``) plus, up to 120 dates,
a ``circle.trend-point`` per run that has a pass rate.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from html import escape
from urllib.parse import urlsplit

STATUS_LABEL = {
    "passed": "passed",
    "tests_failed": "tests failed",
    "infrastructure_failed": "infrastructure failed",
    "results_invalid": "results invalid",
}
NO_RUN = "no_run"
STATUS_COLOUR = {
    "passed": "#2da44e",
    "tests_failed": "#cf222e",
    "infrastructure_failed": "#d4a72c",
    "results_invalid": "#8250df",
    NO_RUN: "#eaeef2",
}
UNKNOWN_STATUS_COLOUR = "#57606a"
# Tableau 10: distinguishable, and readable for the common colour-vision deficiencies.
SERIES_COLOURS = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)
SERIES_DASHES = ("", "6 3", "2 3")  # after ten SDKs the colours repeat with another dash pattern

FONT = "font-family='system-ui,sans-serif' font-size='11' fill='#1d232b'"
CHAR_WIDTH = 6.5  # a generous average advance of an 11 px sans-serif character
MAX_LABEL_CHARS = 24
CELL = 12
TREND_POINTS_UP_TO_DATES = 120
CELL_GAP = 2
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SAFE_SCHEMES = {"", "http", "https", "file"}


def text(value) -> str:
    """Escape for SVG/HTML text and attributes; drops control characters XML cannot hold."""
    return escape(_CONTROL_CHARACTERS.sub("", str(value)), quote=True)


def safe_href(url: str | None) -> str | None:
    """The URL escaped for an href, or None when it is empty or has a scheme that could run code."""
    # Judge exactly the string that will be emitted: browsers ignore the characters text() drops
    # and the surrounding whitespace, so "\x01javascript:" must be judged as "javascript:".
    cleaned = _CONTROL_CHARACTERS.sub("", url or "").strip()
    if not cleaned:
        return None
    try:
        scheme = urlsplit(cleaned).scheme.lower()
    except ValueError:
        return None
    return text(cleaned) if scheme in _SAFE_SCHEMES else None


def status_label(status: str | None) -> str:
    return "no run" if status in (None, NO_RUN) else STATUS_LABEL.get(status, str(status))


def logical_time(logical_date: str) -> datetime:
    """The instant of an ISO 8601 logical date (naive ones are UTC), to order and match dates."""
    moment = datetime.fromisoformat(logical_date)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def percent(rate: float | None) -> str:
    return "–" if rate is None else f"{rate * 100:.1f}%"


def _label(name: str) -> str:
    return name if len(name) <= MAX_LABEL_CHARS else name[: MAX_LABEL_CHARS - 1] + "…"


def _label_width(names: list[str]) -> int:
    longest = max((len(_label(n)) for n in names), default=0)
    return int(longest * CHAR_WIDTH) + 12


def date_columns(history: list[dict]) -> list[str]:
    """The distinct logical dates of the history, oldest first (one chart column each)."""
    seen: dict = {}
    for entry in history:
        seen.setdefault(logical_time(entry["logical_date"]), entry["logical_date"])
    return [seen[moment] for moment in sorted(seen)]


def _by_sdk_and_date(history: list[dict]) -> dict[str, dict]:
    grid: dict[str, dict] = {}
    for entry in history:
        grid.setdefault(entry["sdk"], {})[logical_time(entry["logical_date"])] = entry
    return dict(sorted(grid.items()))


def _tick_every(columns: int, step: float, label_px: float) -> int:
    return max(1, math.ceil(label_px / step)) if columns else 1


def _counts_phrase(entry: dict) -> str:
    ran = entry.get("passed", 0) + entry.get("failed", 0) + entry.get("error", 0)
    if not ran:
        return ""
    return f", {entry.get('passed', 0)} of {ran} passed ({percent(entry.get('pass_rate'))})"


def heatmap_svg(history: list[dict], *, run_links: dict[str, str] | None = None) -> str:
    """SDK × logical date, one cell each, coloured by the run's status ("no run" where none).

    Each cell has a tooltip; a cell whose run_id has an entry in `run_links` links there."""
    run_links = run_links or {}
    columns = date_columns(history)
    grid = _by_sdk_and_date(history)
    sdks = list(grid)
    step = CELL + CELL_GAP
    left = _label_width(sdks)
    top = 22
    width = left + max(len(columns), 1) * step + 8
    height = top + max(len(sdks), 1) * step + 4
    parts = [
        f"<svg class='heatmap' xmlns='http://www.w3.org/2000/svg' role='img' width='{width}' "
        f"height='{height}' viewBox='0 0 {width} {height}' data-sdks='{len(sdks)}' "
        f"data-dates='{len(columns)}'>",
        "<title>Status per SDK and logical date</title>",
    ]
    every = _tick_every(len(columns), step, 80)
    for index, date in enumerate(columns):
        if index % every == 0:
            x = left + index * step
            parts.append(f"<text class='heat-date' x='{x}' y='12' {FONT}>{text(date[:10])}</text>")
    moments = [logical_time(date) for date in columns]
    for row, (sdk, runs) in enumerate(grid.items()):
        y = top + row * step
        parts.append(
            f"<text class='heat-sdk' x='{left - 6}' y='{y + CELL - 2}' text-anchor='end' {FONT}>"
            f"<title>{text(sdk)}</title>{text(_label(sdk))}</text>"
            f"<g class='heat-row' data-sdk='{text(sdk)}' stroke='#d0d7de' stroke-width='0.5'>"
        )
        for index, (date, moment) in enumerate(zip(columns, moments, strict=True)):
            entry = runs.get(moment)
            status = entry["status"] if entry else NO_RUN
            tooltip = f"{sdk} · {entry['logical_date'] if entry else date}: {status_label(status)}"
            if entry:
                tooltip += _counts_phrase(entry)
            colour = STATUS_COLOUR.get(status, UNKNOWN_STATUS_COLOUR)
            cell = (
                f"<rect class='heat-cell' x='{left + index * step}' y='{y}' width='{CELL}' "
                f"height='{CELL}' fill='{colour}' "
                f"data-sdk='{text(sdk)}' data-date='{text(entry['logical_date'] if entry else date)}' "
                f"data-status='{text(status)}'><title>{text(tooltip)}</title></rect>"
            )
            href = safe_href(run_links.get(entry["run_id"])) if entry and entry.get("run_id") else None
            parts.append(f"<a class='heat-link' href='{href}'>{cell}</a>" if href else cell)
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


def status_legend_svg() -> str:
    """The heatmap's colour key."""
    items = [*STATUS_LABEL.items(), (NO_RUN, "no run")]
    x, parts = 0.0, []
    for status, label in items:
        parts.append(
            f"<rect x='{x:.0f}' y='2' width='{CELL}' height='{CELL}' rx='2' "
            f"fill='{STATUS_COLOUR[status]}' stroke='#d0d7de' stroke-width='0.5'/>"
            f"<text x='{x + CELL + 4:.0f}' y='12' {FONT}>{text(label)}</text>"
        )
        x += CELL + 4 + len(label) * CHAR_WIDTH + 14
    return (
        f"<svg class='status-legend' xmlns='http://www.w3.org/2000/svg' width='{x:.0f}' height='16' "
        f"viewBox='0 0 {x:.0f} 16'>{''.join(parts)}</svg>"
    )


def series_style(index: int) -> tuple[str, str]:
    """(colour, dash pattern) of the index-th SDK's trend line."""
    colour = SERIES_COLOURS[index % len(SERIES_COLOURS)]
    dashes = SERIES_DASHES[(index // len(SERIES_COLOURS)) % len(SERIES_DASHES)]
    return colour, dashes


def trend_svg(
    history: list[dict],
    *,
    plot_width: int = 640,
    plot_height: int = 200,
    max_points_dates: int = TREND_POINTS_UP_TO_DATES,
) -> str:
    """Pass rate per SDK over the logical dates: one polyline per SDK, axes and a legend.

    Runs without a pass rate (nothing ran, e.g. an infrastructure failure) are gaps the line
    skips over; their dates keep their place on the axis. Each run gets a point with a tooltip
    while there are at most `max_points_dates` dates; beyond that the points would be under
    2 px apart (and a year of them would double the page), and the heatmap has the same tooltips."""
    columns = date_columns(history)
    grid = _by_sdk_and_date(history)
    sdks = list(grid)
    left, top, bottom = 44, 10, 36
    legend_x = left + plot_width + 16
    width = legend_x + 22 + _label_width(sdks)
    height = top + max(plot_height, len(sdks) * 16) + bottom
    x_step = plot_width / max(len(columns) - 1, 1)

    def x_of(index: int) -> float:
        return left + (index * x_step if len(columns) > 1 else plot_width / 2)

    def y_of(rate: float) -> float:
        return top + (1 - rate) * plot_height

    parts = [
        f"<svg class='trend' xmlns='http://www.w3.org/2000/svg' role='img' width='{width:.0f}' "
        f"height='{height}' viewBox='0 0 {width:.0f} {height}' data-sdks='{len(sdks)}' "
        f"data-dates='{len(columns)}'>",
        "<title>Pass rate per SDK by logical date</title>",
    ]
    for tick in (0, 0.25, 0.5, 0.75, 1):
        y = y_of(tick)
        parts.append(
            f"<line class='trend-grid' x1='{left}' x2='{left + plot_width}' y1='{y:.1f}' y2='{y:.1f}' "
            f"stroke='#d0d7de' stroke-width='{1 if tick == 0 else 0.5}'/>"
            f"<text x='{left - 6}' y='{y + 4:.1f}' text-anchor='end' {FONT}>{tick * 100:.0f}%</text>"
        )
    parts.append(
        f"<line class='trend-axis' x1='{left}' x2='{left}' y1='{top}' y2='{top + plot_height}' "
        "stroke='#57606a' stroke-width='1'/>"
    )
    every = _tick_every(len(columns), x_step, 90)
    for index, date in enumerate(columns):
        if index % every == 0:
            x = x_of(index)
            parts.append(
                f"<line x1='{x:.1f}' x2='{x:.1f}' y1='{top + plot_height}' y2='{top + plot_height + 4}' "
                f"stroke='#57606a'/><text class='trend-date' x='{x:.1f}' y='{top + plot_height + 16}' "
                f"text-anchor='middle' {FONT}>{text(date[:10])}</text>"
            )
    moments = [logical_time(date) for date in columns]
    for series, (sdk, runs) in enumerate(grid.items()):
        colour, dashes = series_style(series)
        dash = f" stroke-dasharray='{dashes}'" if dashes else ""
        points, markers = [], []
        for index, moment in enumerate(moments):
            entry = runs.get(moment)
            if not entry or entry.get("pass_rate") is None:
                continue
            x, y = x_of(index), y_of(entry["pass_rate"])
            points.append(f"{x:.1f},{y:.1f}")
            tooltip = (
                f"{sdk} · {entry['logical_date']}: {status_label(entry['status'])}{_counts_phrase(entry)}"
            )
            markers.append(
                f"<circle class='trend-point' cx='{x:.1f}' cy='{y:.1f}' r='2.5' fill='{colour}' "
                f"data-sdk='{text(sdk)}' data-date='{text(entry['logical_date'])}'>"
                f"<title>{text(tooltip)}</title></circle>"
            )
        parts.append(
            f"<polyline class='trend-line' data-sdk='{text(sdk)}' points='{' '.join(points)}' fill='none' "
            f"stroke='{colour}' stroke-width='2' stroke-linejoin='round'{dash}>"
            f"<title>{text(sdk)}</title></polyline>"
        )
        if len(columns) <= max_points_dates:
            parts.extend(markers)
        y = top + 8 + series * 16
        parts.append(
            f"<g class='trend-legend' data-sdk='{text(sdk)}'>"
            f"<line x1='{legend_x}' x2='{legend_x + 16}' y1='{y}' y2='{y}' stroke='{colour}' "
            f"stroke-width='3'{dash}/><text x='{legend_x + 22}' y='{y + 4}' {FONT}>"
            f"<title>{text(sdk)}</title>{text(_label(sdk))}</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)
