"""A raw TCP server on 127.0.0.1 in a thread of its own, for tests that need a peer that
misbehaves at the socket level (closes at once, answers and hangs up)."""

from __future__ import annotations

import socket
import threading


class TcpServerThread:
    """Accepts connections one at a time and hands each to `handle` (which closes it);
    `close` stops it and joins the thread."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.connections = 0
        self._stopping = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def handle(self, conn: socket.socket) -> None:
        conn.close()

    def _serve(self) -> None:
        while True:
            conn, _ = self.listener.accept()
            if self._stopping:
                conn.close()
                return
            self.connections += 1
            self.handle(conn)

    def close(self) -> None:
        self._stopping = True
        socket.create_connection(("127.0.0.1", self.port)).close()  # wakes accept()
        self._thread.join(30)
        self.listener.close()
