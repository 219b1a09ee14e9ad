"""Runs inside the sandbox: the worker, the supervisor, the clean room, and the student's process (kernel, integrity, audit)."""
