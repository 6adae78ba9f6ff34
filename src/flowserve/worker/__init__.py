"""The executor runtime: serves one Executor instance (a replica) behind a transport."""
