"""Runs outside the sandbox: judges that turn plain probe data into verdicts and messages."""
