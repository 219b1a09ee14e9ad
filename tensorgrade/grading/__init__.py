"""One submission: notebook -> job -> execution record -> verdicts -> score (the result)."""
