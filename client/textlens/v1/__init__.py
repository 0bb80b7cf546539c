"""Generated protobuf and gRPC stubs for textlens.v1 (make proto)."""
