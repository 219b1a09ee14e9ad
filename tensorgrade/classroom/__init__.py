"""Many submissions: discovery, batches, the gradebook, LMS exports, Gradescope, Dask."""
