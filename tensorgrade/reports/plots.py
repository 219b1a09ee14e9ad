"""Plots for the reports: loss curves and the score histogram, as inline PNG data URIs."""

from __future__ import annotations

import base64
import io
import math
import statistics
from typing import Any

from tensorgrade.reports.formatting import format_value


# ---------------------------------------------------------------------------------------------
# Plots (matplotlib's Agg canvas through Figure: no pyplot, no global state, thread-safe)
# ---------------------------------------------------------------------------------------------

BLUE, RED, GREEN, GREY = "#1a73e8", "#d93025", "#188038", "#80868b"
HUGE = 1e12  # no loss worth drawing is larger: beyond it a value is clipped, never given to matplotlib
MAX_POINTS = 5000  # a longer series is thinned (every k-th step) before it is drawn


def _png_data_uri(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight", facecolor="white")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _numbers(values: Any) -> list[float] | None:
    if not isinstance(values, (list, tuple)) or not values:
        return None
    out = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            if value is None:
                out.append(math.nan)
                continue
            return None
        try:
            out.append(float(value))
        except OverflowError:  # an int past float's range: as far off the chart as a float can be
            out.append(math.inf if value > 0 else -math.inf)
    return out


def _first_non_finite(values: list[float]) -> int | None:
    return next((i for i, v in enumerate(values) if not math.isfinite(v)), None)


def _series(details: dict) -> tuple[list[float] | None, list[float] | None]:
    """(the student's curve, the reference's): `curve` and `reference_curve`, or a `curve` of
    {"got": [...], "expected": [...]}."""
    curve = details.get("curve")
    if isinstance(curve, dict):
        return _numbers(curve.get("got")), _numbers(curve.get("expected"))
    return _numbers(curve), _numbers(details.get("reference_curve"))


def x_axis(details: dict) -> tuple[str, int]:
    """(unit, the x of the curve's first value): a check's `x_unit` ("step" or "epoch"; else
    "epoch" when its `xlabel` speaks of epochs) and `x_start` (by default 1 for epochs, the first
    epoch being epoch 1, and 0 for steps). A curve measured before training too says `x_start: 0`."""
    unit = details.get("x_unit")
    if unit not in ("step", "epoch"):
        unit = "epoch" if "epoch" in str(details.get("xlabel") or "").lower() else "step"
    start = details.get("x_start")
    if isinstance(start, bool) or not isinstance(start, int) or abs(start) > 10**9:
        start = 1 if unit == "epoch" else 0
    return unit, start


def span_text(unit: str, start: int, count: int) -> str:
    """How a caption says what a curve covers: "2000 steps", "4 epochs", "after 0 to 4 epochs"."""
    if unit == "epoch" and start == 0:
        return f"after 0 to {count - 1} epochs"
    if start == (1 if unit == "epoch" else 0):
        return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{unit}s {start} to {start + count - 1}"


def curve_summary(details: dict) -> dict | None:
    """The numbers behind a training check's plot: what it covers (steps or epochs), final loss,
    threshold, where it diverged (`diverged_at`: the step or epoch, as the plot numbers them)."""
    curve, reference = _series(details)
    if curve is None:
        return None
    unit, start = x_axis(details)
    threshold = details.get("threshold")
    diverged = _first_non_finite(curve)
    return {"unit": unit, "count": len(curve), "length": span_text(unit, start, len(curve)),
            "final": format_value(curve[-1]),
            "best": format_value(min((v for v in curve if math.isfinite(v)), default=math.nan)),
            "threshold": format_value(threshold) if isinstance(threshold, (int, float)) else None,
            "reference_final": format_value(reference[-1]) if reference else None,
            "diverged_at": None if diverged is None else start + diverged,
            "diverged_label": None if diverged is None else f"{unit} {start + diverged}"}


def _escape_mathtext(text: str) -> str:
    """matplotlib reads `$...$` as mathtext (and raises on bad TeX): shown as dollars instead."""
    return str(text).replace("$", r"\$")


def _plot_range(frame: list[float], log: bool) -> tuple[float, float]:
    """The y range a curve is clipped to: the frame (reference, band, threshold, start) with a margin."""
    low, high = min(frame), max(frame)
    if log:
        return low / 30, high * 30
    span = (high - low) or max(abs(high), 1.0)
    top = max(high * 1.6, high + 0.6 * span) if high > 0 else high + 0.6 * span
    bottom = 0.0 if low >= 0 else low - 0.6 * span
    return bottom, top


def _clip(values: list[float], bottom: float, top: float) -> list[float]:
    """The values held inside [bottom, top]; NaN and inf become NaN (a gap in the line)."""
    return [min(max(v, bottom), top) if math.isfinite(v) else math.nan for v in values]


def _moderate(values: list[float]) -> list[float]:
    """The values a y range can be built on: finite, 0 or between 1/HUGE and HUGE in size."""
    return [v for v in values if math.isfinite(v) and (v == 0 or 1 / HUGE <= abs(v) <= HUGE)]


def loss_curve_plot(details: dict) -> tuple[str, list[str]] | None:
    """A training check's curve against the reference (and its band, when given) and the threshold,
    as (PNG data URI, notes for the caption): `loss_curve_figure`, drawn."""
    drawn = loss_curve_figure(details)
    if drawn is None:
        return None
    figure, notes = drawn
    return _png_data_uri(figure), notes


def loss_curve_figure(details: dict):
    """A training check's curve as (matplotlib Figure, notes for the caption), or None.

    The x axis counts steps from 0 or epochs from 1 (`x_axis`: a curve measured before training too
    starts at epoch 0), with whole-number ticks.

    Every number matplotlib is given is finite and inside one y range: a curve that blows up, or
    swings between +-1e308, is clipped to the range (its reference, threshold and start with a
    margin, else its own moderate values) and NaN/inf are left out as gaps; each note says what was
    clipped or left out, so the caption never hides it."""
    curve, reference = _series(details)
    if curve is None:
        return None
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    unit, start = x_axis(details)
    band = details.get("reference_band") or {}
    low, high = _numbers(band.get("low")) if isinstance(band, dict) else None, \
        _numbers(band.get("high")) if isinstance(band, dict) else None
    if not (low and high and len(low) == len(high)):
        low = high = None
    threshold = details.get("threshold")
    threshold = float(threshold) if isinstance(threshold, (int, float)) and math.isfinite(threshold) \
        and abs(threshold) <= HUGE else None
    notes: list[str] = []

    # Long runs are thinned to at most MAX_POINTS points per series (every k-th step, k >= 1).
    stride = max(1, math.ceil(max(len(s) for s in (curve, reference or [], low or [])) / MAX_POINTS))
    if stride > 1:
        notes.append(f"every {stride}th {unit} shown")

    def thin(series: list[float] | None) -> tuple[list[int], list[float]] | None:
        if series is None:
            return None
        indices = list(range(0, len(series), stride))
        return [start + i for i in indices], [series[i] for i in indices]

    diverged = _first_non_finite(curve)
    shown = curve[:diverged] if diverged is not None else curve
    others = (reference or []) + (low or []) + (high or [])
    # The frame: what the run is judged against, and where it starts; without a reference or a
    # threshold, the run's own moderate values. The y range is the frame with a margin.
    frame = _moderate(others) + ([threshold] if threshold is not None else []) + _moderate(shown[:1])
    if not frame:
        frame = _moderate(shown) or [0.0, 1.0]
    finite = [v for v in curve + others if math.isfinite(v)] + ([threshold] if threshold is not None else [])
    usable = _moderate(curve + others) + ([threshold] if threshold is not None else [])
    log = bool(usable) and min(finite) > 0 and max(usable) / min(usable) > 30
    bottom, top = _plot_range(frame, log)
    inside = [v for v in _moderate(shown) if v < bottom and (v > 0 or not log)]
    bottom = min([bottom] + inside)  # a run that ends below the frame widens it downwards

    figure = Figure(figsize=(7.6, 3.3))
    ax = figure.subplots()
    if log:
        ax.set_yscale("log")
    if low and high:
        (steps, lows), (_, highs) = thin(low), thin(high)
        ax.fill_between(steps, _clip(lows, bottom, top), _clip(highs, bottom, top), color=GREY, alpha=0.22,
                        linewidth=0, label="reference band")
    if reference:
        steps, values = thin(reference)
        ax.plot(steps, _clip(values, bottom, top), color=GREY, linewidth=1.6, linestyle="--", label="reference")
    if threshold is not None:
        ax.axhspan(bottom, threshold, color=GREEN, alpha=0.07, linewidth=0)
        ax.axhline(threshold, color=RED, linewidth=1.3, linestyle=":", label=f"threshold {format_value(threshold)}")
    steps, values = thin(shown)
    few = len(curve) <= 60  # epochs, or a short run: each value marked
    ax.plot(steps, _clip(values, bottom, top), color=BLUE, linewidth=2.0, label="your run", zorder=3,
            marker="o" if few else None, markersize=4)
    off = [(start + i, v) for i, v in enumerate(shown) if not bottom <= v <= top]
    if off:
        ax.set_ylim(bottom, top)
        exit_step, first = off[0]
        edge = top if first > top else bottom
        least, most = format_value(min(v for _, v in off)), format_value(max(v for _, v in off))
        ax.annotate(f"off the chart from {unit} {exit_step} ({least} to {most})", xy=(exit_step, edge),
                    xytext=(14, -14 if edge == top else 14), textcoords="offset points", color=RED, fontsize=9,
                    fontweight="bold", arrowprops={"arrowstyle": "->", "color": RED})
        notes.append(f"{len(off)} value(s) of your run, from {unit} {exit_step} ({least} to {most}), are outside "
                     f"the chart's range {format_value(bottom)} to {format_value(top)} and drawn clipped at its edge")
    elif diverged is not None and shown:
        ax.plot([steps[-1]], [_clip(values, bottom, top)[-1]], marker="X", color=RED, markersize=9,
                linestyle="none", zorder=4)
    if diverged is not None:
        at = start + diverged
        notes.append(f"your run is not drawn from {unit} {at} on: it reaches NaN/inf there "
                     f"({sum(1 for v in curve if not math.isfinite(v))} NaN/inf value(s) in all)")
        ax.axvline(at, color=RED, linewidth=1.0, alpha=0.6)
        ax.text(at, 0.04, f"  NaN/inf from {unit} {at}", transform=ax.get_xaxis_transform(),
                color=RED, fontsize=9, fontweight="bold", ha="left", va="bottom")
        ax.set_xlim(start - 0.02 * len(curve), start + len(curve) * 1.02)
    # Steps and epochs are whole numbers: so are the ticks (epochs from 1, unless the curve starts
    # before training).
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(_escape_mathtext(details.get("xlabel") or unit))
    ax.set_ylabel(_escape_mathtext(details.get("ylabel") or "loss"))
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(True, which="major", color="#e8eaed", linewidth=0.8)
    ax.legend(frameon=False, fontsize=9, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=4)
    return figure, notes


def histogram_plot(scores: list[float], max_score: float) -> str | None:
    """The graded submissions' scores (those that are finite numbers), clipped to 0..max_score."""
    max_score = float(max_score) if isinstance(max_score, (int, float)) and math.isfinite(max_score) \
        and 0 < max_score <= HUGE else None
    scores = [float(s) for s in scores if isinstance(s, (int, float)) and math.isfinite(s)]
    if not scores:
        return None
    if max_score is None:
        max_score = max([1.0] + [s for s in scores if s <= HUGE])
    scores = [min(max(s, 0.0), max_score) for s in scores]
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 2.9))
    ax = figure.subplots()
    top = max_score
    if top <= 40 and all(float(s).is_integer() for s in scores):
        bins = [i - 0.5 for i in range(int(top) + 2)]
    else:
        bins = [top * i / 20 for i in range(21)]
    ax.hist(scores, bins=bins, color=BLUE, edgecolor="white", linewidth=1.2)
    mean = statistics.fmean(scores)
    ax.axvline(mean, color=RED, linestyle="--", linewidth=1.6, label=f"mean {mean:.3g}", zorder=3)
    ax.set_xlabel(f"score (of {max_score:g})")
    ax.set_ylabel("submissions")
    ax.yaxis.get_major_locator().set_params(integer=True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(True, axis="y", color="#e8eaed", linewidth=0.8)
    ax.legend(frameon=False, fontsize=9, loc="upper left")
    return _png_data_uri(figure)
