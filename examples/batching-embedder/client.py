"""The batching embedder's client: `--clients` threads, each posting 1-doc requests one after
the other; prints the throughput and the latency percentiles.

    python client.py                       # 16 clients x 50 requests
    python client.py --clients 1           # latency of one client alone
"""

import argparse
import statistics
import threading
import time

from flowserve import Client, Document


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="grpc://localhost:8080")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    latencies: list[float] = []

    def run(i: int) -> None:
        with Client(host=args.host) as client:
            for j in range(args.requests):
                started = time.perf_counter()
                reply = client.post("/embed", Document(text=f"client {i} request {j}"))
                latencies.append(time.perf_counter() - started)
                assert reply.embeddings.shape == (1, 128)

    started = time.perf_counter()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    print(f"{len(latencies)} requests in {elapsed:.1f} s: {len(latencies) / elapsed:.0f} req/s, "
          f"p50 {1e3 * statistics.median(ordered):.0f} ms, "
          f"p99 {1e3 * ordered[int(0.99 * (len(ordered) - 1))]:.0f} ms")


if __name__ == "__main__":
    main()
