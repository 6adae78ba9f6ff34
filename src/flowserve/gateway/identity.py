"""Who a request comes from: the key of fair queuing, client weights and per-client windows.

The first of these that a request carries names its client (most trustworthy first):

1. an authenticated identity (a token's name), given by the transport adapter;
2. a mesh identity: ``l5d-client-id``, which Linkerd's inbound proxy sets to the calling
   workload's mTLS identity (and strips from what clients send);
3. the id the client sends: gRPC metadata ``flowserve-client-id`` / HTTP header
   ``X-Flowserve-Client-Id`` (flowserve's Client sends one per Client instance);
4. the connection: for a connection from a trusted proxy, the client address it forwarded
   (``X-Forwarded-For``, read from the right, skipping trusted proxies); else the address
   Linkerd saw (``l5d-remote-ip``); else the connection's own peer.

Pure functions over header mappings: the gRPC and HTTP adapters both call `client_identity`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..wire.names import FORWARDED_FOR, MESH_CLIENT_ID, MESH_REMOTE_IP

__all__ = ["TrustedProxies", "client_identity", "peer_address"]

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class TrustedProxies:
    """Addresses (CIDR blocks) whose ``X-Forwarded-For`` is believed."""

    networks: tuple[_Network, ...] = ()

    @classmethod
    def parse(cls, specs: Iterable[str]) -> TrustedProxies:
        """From strings such as ``10.0.0.0/8`` or ``127.0.0.1``; ValueError names a bad one."""
        networks = []
        for spec in specs:
            try:
                networks.append(ipaddress.ip_network(spec.strip(), strict=False))
            except ValueError:
                raise ValueError(
                    f"trusted_proxies: {spec!r} is not an IP address or CIDR block "
                    "(e.g. 10.0.0.0/8)") from None
        return cls(tuple(networks))

    def trusts(self, address: str) -> bool:
        if not self.networks:
            return False
        try:
            ip = ipaddress.ip_address(address.strip().strip("[]"))
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def forwarded_client(self, forwarded_for: str) -> str | None:
        """The client in an ``X-Forwarded-For`` list: the rightmost address that is not a
        trusted proxy (what is left of it was written by the client and proves nothing)."""
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        for hop in reversed(hops):
            if not self.trusts(hop):
                return hop
        return hops[0] if hops else None


NO_PROXIES = TrustedProxies()


def peer_address(peer: str) -> str | None:
    """The IP address in a gRPC peer string (``ipv4:1.2.3.4:5``, ``ipv6:[::1]:5``)."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv4":
        return rest.rpartition(":")[0] or None
    if kind == "ipv6":
        return rest.rpartition(":")[0].strip("[]") or None
    return None


def client_identity(
    headers: Mapping[str, str],
    *,
    peer: str,
    peer_ip: str | None,
    client_id_key: str,
    trusted: TrustedProxies = NO_PROXIES,
    authenticated: str | None = None,
) -> str:
    """The client's identity (see the module docstring for the order).

    `headers` has lower-case keys (gRPC metadata, or HTTP headers); `client_id_key` is the
    lower-case name of the client-sent id there; `peer` is the connection's identity (gRPC
    peer string or HTTP remote address) and `peer_ip` its IP address, when known.
    """
    if authenticated:
        return authenticated
    mesh = headers.get(MESH_CLIENT_ID)
    if mesh:
        return mesh
    sent = headers.get(client_id_key)
    if sent:
        return sent
    remote = headers.get(MESH_REMOTE_IP)
    source = remote or peer_ip
    if source and trusted.trusts(source):
        forwarded = headers.get(FORWARDED_FOR)
        if forwarded:
            client = trusted.forwarded_client(forwarded)
            if client:
                return client
    return remote or peer
