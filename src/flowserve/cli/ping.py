"""The `flowserve ping` sub-command: parse flags, call `flowserve.client.ping.run_ping`.

`register(sub)` adds the command to the `flowserve` sub-parsers (cli/main.py).

Exit codes: 0 healthy, 1 unhealthy or unreachable, 2 invalid arguments.
"""

from __future__ import annotations

import argparse
import re
from typing import Any

__all__ = ["duration", "register", "run"]

_EPILOG = """\
checks:
  executor  grpc.health.v1 Check answers SERVING
  gateway   the same on the gateway's gRPC port (HTTP: GET / answers 200)
  flow      the gateway is healthy and its dry run succeeds (every executor ready)

example (a Kubernetes exec probe):
  flowserve ping flow 127.0.0.1:8080 --timeout 2s --attempts 3

--timeout takes a bare number as milliseconds, as Jina's `jina ping` does (3000 = 3 s), or a
number with a unit: 500ms, 3s, 1m.
"""

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m)?\s*$")


def duration(text: str) -> float:
    """Seconds in `text`: a bare number is milliseconds (Jina's unit), else ``ms``, ``s``,
    ``m``."""
    match = _DURATION.match(text)
    if match is None:
        raise argparse.ArgumentTypeError(
            f"not a duration: {text!r} (a bare number is milliseconds; or 500ms, 3s, 1m)")
    seconds = float(match[1]) * _UNITS[match[2] or "ms"]
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return seconds


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def register(subparsers: argparse._SubParsersAction[Any]) -> argparse.ArgumentParser:
    """Add the ``ping`` sub-command to `subparsers`; its handler is `run` (also set as
    ``func`` in the parsed namespace)."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "ping", help="check that an executor, a gateway or a whole Flow is healthy (exit 0/1)",
        description="Check an executor, a gateway or a whole Flow; exit 0 if healthy, else 1.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("kind", choices=["executor", "gateway", "flow"], help="what to check")
    p.add_argument("address", metavar="HOST:PORT",
                   help="where it serves (or a grpc://, grpcs://, http://, https:// URL)")
    p.add_argument("--timeout", type=duration, default=3.0,
                   help="deadline of each attempt: milliseconds as Jina's (3000), or with a "
                        "unit (3s, 500ms); default 3s")
    p.add_argument("--attempts", type=_positive_int, default=1,
                   help="attempts before giving up, with a short backoff between (default 1)")
    p.add_argument("--protocol", choices=["grpc", "http"], default=None,
                   help="the gateway's protocol (default: the URL scheme, else grpc)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Handle a parsed ``ping`` command: print one line, return the exit code."""
    from ..client.ping import run_ping

    return run_ping(args.kind, args.address, timeout=args.timeout, attempts=args.attempts,
                    protocol=args.protocol)
