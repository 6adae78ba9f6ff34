"""The token streamer's client: prints each token as it arrives, with its arrival time.

    python client.py "tell me about streaming"
    python client.py --host http://localhost:8081 "the same over HTTP (server-sent events)"
"""

import argparse
import time

from flowserve import Client, Document


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("prompt", nargs="?", default="hello streaming world")
    parser.add_argument("--host", default="grpc://localhost:8080")
    parser.add_argument("--max-tokens", type=int, default=None)
    args = parser.parse_args()
    parameters = {} if args.max_tokens is None else {"max_tokens": args.max_tokens}
    started = time.perf_counter()
    with Client(host=args.host) as client:
        for doc in client.stream_doc(on="/generate", inputs=Document(text=args.prompt),
                                     parameters=parameters):
            print(f"{1e3 * (time.perf_counter() - started):7.0f} ms  {doc.text}", flush=True)


if __name__ == "__main__":
    main()
