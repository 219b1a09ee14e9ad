"""The IPython shell that runs a submission's cells: notebook semantics, no terminal, GUI, history
or shell escapes. Created once in the warm worker; each forked submission works on its own copy."""

from __future__ import annotations

from IPython.core.interactiveshell import InteractiveShell


class GradingShell(InteractiveShell):
    """IPython with notebook semantics but no terminal, GUI, history or shell escapes."""

    def enable_gui(self, gui=None):  # %matplotlib inline needs no event loop
        return None

    def enable_matplotlib(self, gui=None):
        # `%matplotlib inline` (notebook, widget, ...): nothing is shown while grading, and inside the
        # sandbox IPython cannot resolve the backend's name (RuntimeError), which skipped the rest of
        # a cell such as `%matplotlib inline` + the notebook's imports. Figures draw on Agg instead.
        import matplotlib

        matplotlib.use("Agg")
        return gui, "agg"

    def system(self, cmd):  # `!pip install x` and %pip: report, do not run
        print(f"[grader] shell command not run during grading: !{cmd}\n"
              "[grader] the grader provides the course's packages; remove installs from your notebook.")

    system_piped = system_raw = system

    def showtraceback(self, *args, **kwargs):  # the grader records a trimmed traceback instead
        return None

    def showsyntaxerror(self, *args, **kwargs):
        return None

    def _format_exception_for_storage(self, exception, filename=None, running_compiled_code=False):
        # IPython formats every failing cell's full traceback for its history (stack_data, source
        # parsing, inspect over all loaded modules): 40-90 ms per failing cell in each forked
        # process. The grader records its own trimmed traceback instead.
        return {"ename": type(exception).__name__, "evalue": "", "traceback": []}


def make_shell() -> GradingShell:
    """The shell singleton.  The worker creates it once before forking (0.1 s saved per
    submission); each forked student process then works on its own copy."""
    from traitlets.config import Config

    if GradingShell.initialized():
        return GradingShell.instance()
    config = Config()
    config.HistoryManager.enabled = False
    config.InteractiveShell.colors = "nocolor"
    config.InteractiveShell.autocall = 0
    shell = GradingShell.instance(config=config)
    shell.display_formatter.active_types = ["text/plain"]
    return shell
