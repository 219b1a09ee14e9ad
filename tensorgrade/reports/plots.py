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
        out.append(float(value))
    return out


def _first_non_finite(values: list[float]) -> int | None:
    return next((i for i, v in enumerate(values) if not math.isfinite(v)), None)


def curve_summary(details: dict) -> dict | None:
    """The numbers behind a training check's plot: final loss, threshold, where it diverged."""
    curve = _numbers(details.get("curve"))
    if curve is None:
        return None
    reference = _numbers(details.get("reference_curve"))
    threshold = details.get("threshold")
    diverged = _first_non_finite(curve)
    return {"steps": len(curve), "final": format_value(curve[-1]),
            "best": format_value(min((v for v in curve if math.isfinite(v)), default=math.nan)),
            "threshold": format_value(threshold) if isinstance(threshold, (int, float)) else None,
            "reference_final": format_value(reference[-1]) if reference else None,
            "diverged_at": diverged}


def loss_curve_plot(details: dict) -> str | None:
    """A training check's curve against the reference (and its band, when given) and the threshold."""
    curve = _numbers(details.get("curve"))
    if curve is None:
        return None
    from matplotlib.figure import Figure

    reference = _numbers(details.get("reference_curve"))
    band = details.get("reference_band") or {}
    low, high = _numbers(band.get("low")) if isinstance(band, dict) else None, \
        _numbers(band.get("high")) if isinstance(band, dict) else None
    threshold = details.get("threshold")
    threshold = float(threshold) if isinstance(threshold, (int, float)) and math.isfinite(threshold) else None

    figure = Figure(figsize=(7.6, 3.3))
    ax = figure.subplots()
    finite = [v for series in (curve, reference or [], low or [], high or []) for v in series if math.isfinite(v)]
    if threshold is not None:
        finite.append(threshold)
    positive = bool(finite) and min(finite) > 0
    if positive and max(finite) / min(finite) > 30:
        ax.set_yscale("log")
    if low and high and len(low) == len(high):
        ax.fill_between(range(len(low)), low, high, color=GREY, alpha=0.22, linewidth=0, label="reference band")
    if reference:
        ax.plot(range(len(reference)), reference, color=GREY, linewidth=1.6, linestyle="--", label="reference")
    if threshold is not None:
        bottom = min(finite) if positive else min(0.0, min(finite))
        ax.axhspan(bottom * (0.8 if positive else 1), threshold, color=GREEN, alpha=0.07, linewidth=0)
        ax.axhline(threshold, color=RED, linewidth=1.3, linestyle=":", label=f"threshold {format_value(threshold)}")
    diverged = _first_non_finite(curve)
    shown = curve[:diverged] if diverged is not None else curve
    ax.plot(range(len(shown)), shown, color=BLUE, linewidth=2.0, label="your run", zorder=3)
    # A run that blows up would squash everything else against the axis: cap the y range at a
    # margin above the reference, the threshold and the start, and say where the run leaves it.
    frame = [v for series in (reference or [], high or []) for v in series if math.isfinite(v)]
    frame += [v for v in (threshold, shown[0] if shown else None) if v is not None and math.isfinite(v)]
    log = ax.get_yscale() == "log"
    top = (max(frame) * (30 if log else 1.6)) if frame and max(frame) > 0 else None
    finite_shown = [v for v in shown if math.isfinite(v)]
    if top is not None and finite_shown and max(finite_shown) > top:
        exit_step = next(i for i, v in enumerate(shown) if v > top)
        if log:
            ax.set_ylim(min(v for v in finite if v > 0) * 0.7, top)
        else:
            ax.set_ylim(min(0.0, min(finite)), top)
        ax.annotate(f"off the chart from step {exit_step} (up to {max(finite_shown):.3g})",
                    xy=(exit_step, top), xytext=(14, -14), textcoords="offset points", color=RED,
                    fontsize=9, fontweight="bold", arrowprops={"arrowstyle": "->", "color": RED})
    elif diverged is not None and shown:
        ax.plot([len(shown) - 1], [shown[-1]], marker="X", color=RED, markersize=9, linestyle="none", zorder=4)
    if diverged is not None:
        ax.axvline(diverged, color=RED, linewidth=1.0, alpha=0.6)
        ax.text(diverged, 0.04, f"  NaN/inf from step {diverged}", transform=ax.get_xaxis_transform(),
                color=RED, fontsize=9, fontweight="bold", ha="left", va="bottom")
        ax.set_xlim(-0.02 * len(curve), len(curve) * 1.02)
    ax.set_xlabel(str(details.get("xlabel") or "step"))
    ax.set_ylabel(str(details.get("ylabel") or "loss"))
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(True, which="major", color="#e8eaed", linewidth=0.8)
    ax.legend(frameon=False, fontsize=9, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=4)
    return _png_data_uri(figure)


def histogram_plot(scores: list[float], max_score: float) -> str | None:
    if not scores:
        return None
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 2.9))
    ax = figure.subplots()
    top = max(max_score, max(scores))
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
