"""What people read: a student's report (HTML, Markdown, terminal), the TA view and the class dashboard.

    diagnoses   course content: each known mistake explained, with its lecture idea
    formatting  how values, points and file names are written
    plots       loss curves and the score histogram as inline PNGs (matplotlib)
    view        the view model of one result: the only thing a report shows
    render      the Jinja2 templates: HTML and Markdown reports, written to a file
    terminal    the report in the terminal (rich), for `tensorgrade check`
    dashboard   the class: the TA dashboard, every report written, results read back
"""
