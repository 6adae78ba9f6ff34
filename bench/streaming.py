"""What a streaming endpoint costs, against a post to the same executor, in one run.

    PYTHONPATH=src python bench/streaming.py [--requests 300] [--rounds 3] [--docs 100]

One Flow serving gRPC and HTTP (bench/_stream_executor.py); flowserve's ``Client`` in this
process. Per protocol and round: ``--requests`` sequential 1-doc posts (the baseline), as many
``stream_doc`` calls whose handler yields one document at once (time to the first document),
and ``--requests / 10`` streams of ``--docs`` documents (time per streamed document). Rounds
alternate so background load hits every side. Prints p50s and the ratios to the post p50.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from _machine import arm_watchdog, machine
from _stream_executor import StreamExecutor

from flowserve import Client, Document, Flow


def p50_ms(times: list[float]) -> float:
    return 1e3 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--docs", type=int, default=100)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    arm_watchdog(600, "bench/streaming.py took over 10 minutes")
    doc = Document(text="x")
    times: dict[str, list[float]] = {}
    with Flow(host="127.0.0.1", protocol=["grpc", "http"]).add(uses=StreamExecutor) as flow:
        clients = {p: Client(host=flow.addresses.gateway_url(p)) for p in ("grpc", "http")}
        try:
            for c in clients.values():  # warm up: connections, the gateway's discovery
                for _ in range(20):
                    c.post("/post", doc)
                    list(c.stream_doc(on="/stream", inputs=doc))
            for _ in range(args.rounds):
                for proto, c in clients.items():
                    for _ in range(args.requests):
                        started = time.perf_counter()
                        c.post("/post", doc)
                        times.setdefault(f"{proto} post", []).append(
                            time.perf_counter() - started)
                    for _ in range(args.requests):
                        started = time.perf_counter()
                        docs = c.stream_doc(on="/stream", inputs=doc, parameters={"n": 1})
                        next(docs)
                        times.setdefault(f"{proto} first doc", []).append(
                            time.perf_counter() - started)
                        list(docs)
                    for _ in range(max(1, args.requests // 10)):
                        started = time.perf_counter()
                        got = list(c.stream_doc(on="/stream", inputs=doc,
                                                parameters={"n": args.docs}))
                        assert len(got) == args.docs
                        times.setdefault(f"{proto} per doc", []).append(
                            (time.perf_counter() - started) / args.docs)
        finally:
            for c in clients.values():
                c.close()
    results = {name: p50_ms(t) for name, t in times.items()}
    for proto in ("grpc", "http"):
        post = results[f"{proto} post"]
        print(f"{proto:4}: post p50 {post:.3f} ms, first doc p50 "
              f"{results[f'{proto} first doc']:.3f} ms "
              f"({results[f'{proto} first doc'] / post:.2f}x the post), per streamed doc "
              f"{1e3 * results[f'{proto} per doc']:.0f} us "
              f"({results[f'{proto} per doc'] / post:.3f}x the post)")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "p50_ms": results}, indent=2))


if __name__ == "__main__":
    main()
