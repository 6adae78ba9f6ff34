"""Where a client connects: parse ``grpc://host:port`` and friends into an `Address`."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["Address", "parse_address"]

# scheme -> (protocol, tls)
_SCHEMES: dict[str, tuple[str, bool]] = {
    "grpc": ("grpc", False),
    "grpcs": ("grpc", True),
    "http": ("http", False),
    "https": ("http", True),
}
DEFAULT_PORT = 8080


@dataclass(frozen=True, slots=True)
class Address:
    """A gateway address: `protocol` is ``'grpc'`` or ``'http'``; `tls` for grpcs/https."""

    host: str
    port: int
    protocol: str
    tls: bool = False

    @property
    def target(self) -> str:
        """``host:port`` (IPv6 hosts in brackets), as gRPC channels want it."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://localhost:8080`` or ``grpcs://example.com:443``."""
        scheme = self.protocol + ("s" if self.tls else "")
        return f"{scheme}://{self.target}"

    def __str__(self) -> str:
        return self.url


def _check_port(port: object) -> int:
    try:
        value = -1 if isinstance(port, bool) else int(port)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        value = -1
    if not 0 < value < 65536:
        raise ValueError(f"invalid port {port!r}: must be an integer in 1..65535")
    return value


def parse_address(
    host: str = "localhost", port: int | str | None = None, protocol: str | None = None
) -> Address:
    """Parse the `Client` constructor's ``host``/``port``/``protocol`` into an `Address`.

    Accepted: ``grpc://h:p``, ``grpcs://h:p``, ``http://h:p``, ``https://h:p``, ``h:p`` and
    ``h`` (with `port`/`protocol` keyword arguments). An explicit `port` or `protocol` must
    agree with the one in `host`. Defaults: protocol ``grpc``; port 8080 (443 for https/grpcs
    and 80 for http when a scheme is given without a port). Raises ValueError naming the bad
    value.
    """
    if not isinstance(host, str) or not host.strip():
        raise ValueError(f"invalid host {host!r}: expected e.g. 'grpc://localhost:8080'")
    text = host.strip()
    if protocol is not None:
        proto_key = protocol.lower()
        if proto_key not in _SCHEMES:
            raise ValueError(
                f"invalid protocol {protocol!r}: expected one of {', '.join(_SCHEMES)}"
            )
    scheme: str | None = None
    if "://" in text:
        scheme = text.split("://", 1)[0].lower()
        if scheme not in _SCHEMES:
            raise ValueError(
                f"invalid scheme {scheme!r} in host {host!r}: expected one of "
                f"{', '.join(s + '://' for s in _SCHEMES)}"
            )
    else:
        text = "//" + text  # let urlsplit treat it as a netloc
    parts = urlsplit(text)
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"invalid host {host!r}: a gateway address takes no path or query")
    hostname = parts.hostname
    if not hostname:
        raise ValueError(f"invalid host {host!r}: no host name")
    try:
        url_port = parts.port
    except ValueError:
        raw = parts.netloc.rsplit(":", 1)[-1]
        raise ValueError(f"invalid port {raw!r} in host {host!r}") from None
    if url_port is not None:
        url_port = _check_port(url_port)

    if scheme is None:
        key = protocol.lower() if protocol is not None else "grpc"
    else:
        key = scheme
        if protocol is not None and _SCHEMES[protocol.lower()][0] != _SCHEMES[scheme][0]:
            raise ValueError(f"protocol {protocol!r} contradicts the scheme of host {host!r}")
    proto, tls = _SCHEMES[key]

    if port is not None:
        final_port = _check_port(port)
        if url_port is not None and url_port != final_port:
            raise ValueError(f"port {port!r} contradicts the port in host {host!r}")
    elif url_port is not None:
        final_port = url_port
    elif scheme in ("http", "https") or (scheme == "grpcs"):
        final_port = {"http": 80, "https": 443, "grpcs": 443}[scheme]
    else:
        final_port = DEFAULT_PORT
    return Address(host=hostname, port=final_port, protocol=proto, tls=tls)
