"""Server interceptors, outermost first: request context and logging, tracing, auth."""
