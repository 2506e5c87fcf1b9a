"""Statistics against the plan's targets and the institution summary, from projections of the
domain events (the reporting service never calls another service)."""
