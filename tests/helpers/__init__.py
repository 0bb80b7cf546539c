"""Shared test support: real server processes, services, and gRPC helpers."""
