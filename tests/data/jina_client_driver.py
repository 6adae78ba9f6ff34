"""Run by the Jina 3.34 virtualenv's python (tests/integration/test_jina_client.py): drives
`jina.Client` against a flowserve gateway and prints what it saw as one JSON line.

Usage: python jina_client_driver.py PROTOCOL HOST PORT
"""

import json
import sys

import numpy as np
from docarray import Document, DocumentArray
from jina import Client


def main() -> None:
    protocol, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    client = Client(host=host, port=port, protocol=protocol)
    out = {}

    done, errors = [], []
    docs = DocumentArray(
        Document(id=f"d{i}", text=f"t{i}", tags={"i": i}, embedding=np.array([i, 0.5]))
        for i in range(5)
    )
    # with callbacks, Jina's post returns None: the callbacks see every response
    client.post("/", docs, request_size=2, on_done=done.append, on_error=errors.append,
                results_in_order=True)
    out["chain"] = {
        "callbacks": [len(done), len(errors)],
        "texts": [d.text for r in done for d in r.docs],
        "tags": [d.tags for r in done for d in r.docs],
        "embedding_shapes": [list(d.embedding.shape) for r in done for d in r.docs],
    }

    stats = client.post("/stats", DocumentArray([Document(text="s")] * 3),
                        parameters={"x": "y"}, return_responses=True)
    out["results"] = stats[0].parameters["__results__"]

    only_first = client.post("/", DocumentArray([Document(text="o")]), target_executor="first")
    out["target"] = {"texts": only_first.texts,
                     "embedding": None if only_first[0].embedding is None else "set"}

    done, errors = [], []
    client.post("/", DocumentArray([Document(text="boom")]), on_done=done.append,
                on_error=errors.append)
    out["error"] = {
        "callbacks": [len(done), len(errors)],
        "executor": errors[0].header.status.exception.executor if errors else None,
        "name": errors[0].header.status.exception.name if errors else None,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
