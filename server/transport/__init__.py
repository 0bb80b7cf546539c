"""gRPC transport: servicers, interceptors, codec and error mapping."""
