"""Composition roots: each builds one server process (gateway or executor worker) from its
settings, runs it, and stops it gracefully."""
