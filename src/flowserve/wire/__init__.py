"""What travels between processes: the request view over the Jina protobuf, the HTTP JSON
shapes, wire names (metadata keys, headers, gRPC methods) and the error <-> status table."""
