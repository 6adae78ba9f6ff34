"""The demo's client: stream documents into the Flow and print one line per response.

    python client.py                 # 100,000 docs (about 1,000 s: Ctrl-C stops)
    python client.py --docs 1000     # a shorter run
"""

import argparse
from datetime import datetime

from flowserve import Client, Document, DocumentArray


def on_done(r):
    print(f"{datetime.now()}, {r}, {len(r.docs)} docs, embedding shape {r.docs.embeddings.shape}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="grpc://localhost:8080")
    parser.add_argument("--docs", type=int, default=100_000)
    args = parser.parse_args()
    da = DocumentArray(Document(text=f"text {i}") for i in range(args.docs))
    Client(host=args.host).post(on="/", inputs=da, on_done=on_done)


if __name__ == "__main__":
    main()
