"""What travels between processes: the request view over the Jina protobuf, the HTTP JSON
shapes, wire names (metadata keys, gRPC methods), the error <-> status table and the generated
protobuf code."""
