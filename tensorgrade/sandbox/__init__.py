"""The boundary: `host/` (grader side), `inside/` (the sandbox), and what crosses it (`protocol`, `transport`)."""
