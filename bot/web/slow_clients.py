"""The web app's HTTP protocol: a client has :data:`HEAD_SECONDS` to send each request's head.

Security review L1: uvicorn closes idle keep-alive connections, but a request line and
headers may take as long as the client likes; 400 sockets each sending a header line every
5 s were all still open after 75 s (slowloris). Worse, ``--limit-concurrency`` counts open
connections, so 200 such sockets would turn every new request into a 503. This protocol,
chosen with ``uvicorn --http bot.web.slow_clients:HeadTimeoutProtocol`` (bot/supervisor.py,
deploy/), closes a connection whose request head is not complete ``HEAD_SECONDS`` after the
connection opened or the request's first byte arrived, as nginx's ``client_header_timeout``
does in front of it (deploy/nginx.conf, also 10 s). It closes without an answer, as nginx does.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

logger = logging.getLogger(__name__)

HEAD_SECONDS = 10.0


class HeadTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline on every request head."""

    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: Any) -> None:  # a connection that sends nothing is a slow head too
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._head_timer is None:  # the next request on a kept-alive connection
            self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._head_timer = self.loop.call_later(HEAD_SECONDS, self._too_slow)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _too_slow(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            logger.info("closing a connection whose request head took over %g s", HEAD_SECONDS)
            self.transport.close()
