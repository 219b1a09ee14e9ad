"""The probe of a manually graded question (checking/vocabulary_manual.py): it runs no student code."""

from __future__ import annotations

__all__ = ["probe_manual"]


def probe_manual(ns: dict, inputs: dict) -> None:
    return None
