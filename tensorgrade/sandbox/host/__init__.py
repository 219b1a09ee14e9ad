"""Grader side of the sandbox: detecting and applying isolation, warm workers, jobs and their records."""
