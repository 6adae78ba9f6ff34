import time

import numpy as np

from flowserve import DocumentArray, Executor, requests


class HeavyExecutorLinkerdDemo(Executor):
    def __init__(self, n_dim: int = 256, sleep: int = 3, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.n_dim = n_dim
        self.sleep = sleep

    @requests
    def foo(self, docs: DocumentArray, **kwargs):
        time.sleep(self.sleep)
        if self.n_dim != -1:
            docs.embeddings = np.random.random([len(docs), self.n_dim])
