"""Who a request comes from: precedence of authenticated, mesh, client-sent and connection
identities, and X-Forwarded-For from trusted proxies only."""

from __future__ import annotations

import pytest

from flowserve.gateway.identity import TrustedProxies, client_identity, peer_address

KEY = "flowserve-client-id"
PEER = "ipv4:127.0.0.1:40000"


def ident(headers=None, *, peer=PEER, trusted=(), authenticated=None):
    return client_identity(headers or {}, peer=peer, peer_ip=peer_address(peer),
                           client_id_key=KEY, trusted=TrustedProxies.parse(trusted),
                           authenticated=authenticated)


def test_the_connection_when_nothing_else_is_known():
    assert ident() == PEER


def test_a_client_sent_id_beats_the_connection():
    assert ident({KEY: "worker-7"}) == "worker-7"


def test_the_mesh_identity_beats_a_client_sent_id():
    headers = {KEY: "worker-7", "l5d-client-id": "web.prod.serviceaccount.identity.linkerd"}
    assert ident(headers) == "web.prod.serviceaccount.identity.linkerd"


def test_an_authenticated_identity_beats_everything():
    headers = {KEY: "worker-7", "l5d-client-id": "web"}
    assert ident(headers, authenticated="token:batch") == "token:batch"


def test_linkerd_remote_ip_replaces_the_local_proxy_peer():
    assert ident({"l5d-remote-ip": "10.1.2.3"}) == "10.1.2.3"


def test_forwarded_for_is_ignored_from_untrusted_peers():
    assert ident({"x-forwarded-for": "203.0.113.9"}) == PEER


def test_forwarded_for_from_a_trusted_proxy_names_the_client():
    headers = {"x-forwarded-for": "203.0.113.9"}
    assert ident(headers, trusted=["127.0.0.1"]) == "203.0.113.9"


def test_forwarded_for_is_read_from_the_right_skipping_trusted_hops():
    # the client wrote the first entry itself; the last untrusted hop is the real client
    headers = {"x-forwarded-for": "1.1.1.1, 198.51.100.7, 10.0.0.2, 10.0.0.3"}
    assert ident(headers, trusted=["127.0.0.0/8", "10.0.0.0/8"]) == "198.51.100.7"


def test_forwarded_for_behind_linkerd_trusts_the_address_linkerd_saw():
    headers = {"l5d-remote-ip": "10.0.0.5", "x-forwarded-for": "198.51.100.7"}
    assert ident(headers, trusted=["10.0.0.0/24"]) == "198.51.100.7"
    assert ident(headers, trusted=["127.0.0.1"]) == "10.0.0.5"  # the ingress is not trusted


def test_ipv6_peers_and_bad_proxy_specs():
    assert peer_address("ipv6:[::1]:5000") == "::1"
    assert peer_address("unix:/tmp/x") is None
    assert ident({"x-forwarded-for": "2001:db8::1"}, peer="ipv6:[::1]:5000",
                 trusted=["::1"]) == "2001:db8::1"
    with pytest.raises(ValueError, match="'not-an-ip' is not an IP address or CIDR"):
        TrustedProxies.parse(["not-an-ip"])


def test_trusted_proxies_are_validated_in_the_flow_yaml():
    from flowserve.config.spec import flow_from_dict
    from flowserve.errors import ConfigError

    with pytest.raises(ConfigError, match="trusted_proxies.*10.0.0.300/8"):
        flow_from_dict({"jtype": "Flow", "with": {"trusted_proxies": ["10.0.0.300/8"]},
                        "executors": [{"name": "a", "uses": "toy_executors:NoOp"}]})


def test_the_http_adapter_reads_the_identity_and_trusted_forwarded_for():
    import asyncio

    import httpx

    from flowserve.gateway.http_app import create_app

    seen: list[str] = []

    class Core:
        async def process(self, request, *, deadline, client, origin=None):
            seen.append(client)
            return request

    app = create_app(Core(), trusted=TrustedProxies.parse(["127.0.0.0/8"]))  # type: ignore[arg-type]

    async def post(headers):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            reply = await client.post("/post", json={"data": []}, headers=headers)
            assert reply.status_code == 200, reply.text

    asyncio.run(post({}))
    asyncio.run(post({"X-Forwarded-For": "198.51.100.7"}))
    asyncio.run(post({"X-Forwarded-For": "198.51.100.7", "X-Flowserve-Client-Id": "w1"}))
    asyncio.run(post({"L5d-Client-Id": "web.prod", "X-Flowserve-Client-Id": "w1"}))
    assert seen == ["127.0.0.1", "198.51.100.7", "w1", "web.prod"]
