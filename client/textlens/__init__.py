"""TextLens client library."""
