"""The Flow configuration: the YAML schema and its options, the YAML line map for messages, the
executor graph, and resolving `uses` to executor classes."""
