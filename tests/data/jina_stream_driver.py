"""Run by the Jina 3.34 virtualenv's python (tests/integration/test_jina_client.py): streams
from a flowserve gateway with `jina.Client.stream_doc` and prints what it saw as one JSON line.

Usage: python jina_stream_driver.py PROTOCOL HOST PORT [ENDPOINT]
"""

import asyncio
import json
import sys

from docarray import Document
from jina import Client


async def main() -> None:
    protocol, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    endpoint = sys.argv[4] if len(sys.argv) > 4 else "/generate"
    client = Client(host=host, port=port, protocol=protocol, asyncio=True)
    docs = [doc async for doc in client.stream_doc(on=endpoint,
                                                   inputs=Document(text="a b c"))]
    print(json.dumps({"texts": [d.text for d in docs], "tags": [d.tags for d in docs]}))


asyncio.run(main())
