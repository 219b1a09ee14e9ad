"""What people read: a student's report (HTML, Markdown, terminal), the TA view and the class dashboard.

    diagnoses   course content: each known mistake explained, with its lecture idea
    formatting  how values, points and file names are written
    paths       paths as a student sees them: relative, never the grading machine's own
    plots       loss curves and the score histogram as inline PNGs (matplotlib)
    view        the view model of one result: the only thing a report shows
    render      the Jinja2 templates: HTML and Markdown reports, written to a file
    terminal    the report in the terminal (rich), for `tensorgrade check`
    dashboard   the class: the TA dashboard, every report written, results read back

Student-derived text is made harmless where it is written out, through tensorgrade.safe_text: the
terminal report passes its whole view through `for_terminal`, the Markdown template writes student
text with `for_markdown`, every template value has its control characters written out, HTML is
autoescaped, and report files are named by `file_name`. One student's report that fails to render
(or one plot) is replaced or marked and listed on the dashboard; it never stops the class's.
"""
