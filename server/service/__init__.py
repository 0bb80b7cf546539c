"""Use cases, unit of work and repository ports."""
