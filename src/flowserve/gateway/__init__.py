"""The gateway: a transport-free core (routing, merging) plus thin gRPC and HTTP adapters."""
