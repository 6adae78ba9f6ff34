"""The `flowserve` command line: thin commands that parse flags and call the library."""
