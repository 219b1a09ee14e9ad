"""What a student hands in: a notebook read and validated, or why it cannot be graded."""
