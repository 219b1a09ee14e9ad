"""Checks: inputs drawn outside, probes run inside the sandbox (`inside/`), judges outside (`outside/`)."""
