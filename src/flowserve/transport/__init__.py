"""gRPC plumbing shared by the worker and the gateway servers and the gateway's executor calls."""
