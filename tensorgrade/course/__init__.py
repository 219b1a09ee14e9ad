"""An assignment: its spec, authoring helpers, offline data and the release gate."""
