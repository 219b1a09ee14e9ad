"""`tensorgrade report` with two failures injected, the way a matplotlib or a template bug fails
(used by test_report_safety.py; not a test itself): the loss curve of any run whose losses reach
-1e300 raises as matplotlib raised on them before plots were clipped, and the student report of the
student "escapes" raises with an escape sequence in its message. The command's arguments follow."""

import sys

import tensorgrade.reports.dashboard as dashboard
import tensorgrade.reports.view as view

real_plot, real_render = view.loss_curve_plot, dashboard.render_view


def failing_plot(details):
    if any(isinstance(v, float) and v <= -1e300 for v in details.get("curve") or []):
        raise ValueError("arange: cannot compute length")
    return real_plot(details)


def failing_render(report, kind):
    if report["student"] == "escapes" and kind == "html" and not report["ta"]:
        raise RuntimeError("template failed \x1b]0;x\x07")
    return real_render(report, kind)


view.loss_curve_plot = failing_plot
dashboard.render_view = failing_render

from tensorgrade.cli.main import main  # noqa: E402

sys.exit(main(sys.argv[1:]))
