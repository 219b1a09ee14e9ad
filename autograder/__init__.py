"""Sandboxed autograder for deep-learning courses: probe inside the sandbox, judge outside."""

__version__ = "0.1.0"
