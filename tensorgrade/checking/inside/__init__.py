"""Runs inside the sandbox, on the student's namespace: probe helpers that return plain data."""
