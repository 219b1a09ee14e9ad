"""The one error of authoring: a source, notebook or imported assignment that cannot be made into an
assignment. Every authoring step raises it (reading a source, building it, deriving thresholds,
scaffolding, importing), and the CLI shows its message, which names the file, the cell and the
problem, instead of a traceback."""


class AuthoringError(ValueError):
    """A source that cannot be authored; the message names the file or cell and the problem."""
