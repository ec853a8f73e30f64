"""A small client for the LINE Messaging API: reply, push and the loading animation.

Written against the HTTP API directly: the official SDK v3 needs pydantic 2, which
Rasa 3.6 cannot use. Rate limits (429) and server errors (5xx, timeouts) are retried
with exponential backoff, honouring ``Retry-After``. Pushes carry an
``X-Line-Retry-Key`` so a retry after an ambiguous failure never delivers twice
(LINE answers 409 to a key it has already accepted). The access token is only ever
put in the ``Authorization`` header; log lines name the endpoint and status, nothing else.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.line.me"
MAX_MESSAGES = 5  # per reply or push call
RETRYABLE = frozenset({429, 500, 502, 503, 504})

Message = dict[str, Any]


class LineApiError(RuntimeError):
    """LINE refused a call or stayed unreachable after the retries."""

    def __init__(self, endpoint: str, status: int | None, detail: str = "") -> None:
        super().__init__(f"LINE {endpoint}: {status or 'unreachable'} {detail}".strip())
        self.endpoint, self.status, self.detail = endpoint, status, detail


class ReplyTokenInvalid(LineApiError):
    """The reply token was used already or has expired (LINE answers 400); push instead."""


@dataclass(frozen=True, slots=True)
class ReplyOutcome:
    """A reply LINE took. ``uncertain``: LINE refused a retry, so an earlier attempt was probably delivered."""

    uncertain: bool = False


class LineApi(Protocol):
    async def reply(self, reply_token: str, messages: list[Message]) -> ReplyOutcome: ...

    async def push(self, to: str, messages: list[Message]) -> None: ...

    async def show_loading(self, chat_id: str, seconds: int = 20) -> None: ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0

    def delay(self, attempt: int, retry_after: str | None) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based); Retry-After wins when given."""
        if retry_after:
            try:
                return min(max(float(retry_after), 0.0), self.max_delay)
            except ValueError:
                pass
        return min(self.base_delay * 2 ** (attempt - 1), self.max_delay)


class HttpLineApi:
    """The Messaging API over httpx; one client per channel, opened on first use."""

    def __init__(
        self,
        access_token: str,
        base_url: str = DEFAULT_API_URL,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._token = access_token
        self.base_url = (base_url or DEFAULT_API_URL).rstrip("/")
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._client: httpx.AsyncClient | None = None

    def __repr__(self) -> str:  # never show the token, even in a traceback's locals
        return f"HttpLineApi(base_url={self.base_url!r})"

    def _http(self) -> httpx.AsyncClient:
        if self._client is None or self._client.is_closed:
            self._client = httpx.AsyncClient(
                base_url=self.base_url, timeout=self.timeout, headers={"Authorization": f"Bearer {self._token}"}
            )
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def _post(
        self, endpoint: str, body: dict[str, Any], headers: dict[str, str] | None = None, attempts: int | None = None
    ) -> tuple[httpx.Response, bool]:
        """POST with retries. Returns the final response and whether an earlier attempt was ambiguous.

        Raises:
            LineApiError: LINE stayed unreachable (timeouts, connection errors).
        """
        ambiguous = False
        attempts = attempts or self.retry.attempts
        for attempt in range(1, attempts + 1):
            try:
                answer = await self._http().post(endpoint, json=body, headers=headers)
            except httpx.HTTPError as exc:
                logger.warning("LINE %s attempt %d/%d failed: %s", endpoint, attempt, attempts, type(exc).__name__)
                ambiguous = ambiguous or not isinstance(exc, httpx.ConnectError)
                if attempt == attempts:
                    raise LineApiError(endpoint, None, type(exc).__name__) from exc
                await self._sleep(self.retry.delay(attempt, None))
                continue
            if answer.status_code not in RETRYABLE or attempt == attempts or _quota_spent(answer):
                return answer, ambiguous
            logger.warning("LINE %s attempt %d/%d: HTTP %d, retrying", endpoint, attempt, attempts, answer.status_code)
            ambiguous = ambiguous or answer.status_code >= 500
            await self._sleep(self.retry.delay(attempt, answer.headers.get("Retry-After")))
        raise AssertionError("unreachable")  # pragma: no cover

    async def reply(self, reply_token: str, messages: list[Message]) -> ReplyOutcome:
        """Answer an event with up to five messages.

        A 400 on the first attempt means the token is spent or expired: the caller
        pushes instead. The same 400 after a 5xx or timeout means that attempt was
        probably delivered, so the outcome is ``uncertain`` and nothing is pushed
        (a duplicate is worse than the rare loss; LINE offers no retry key for replies).

        Raises:
            ReplyTokenInvalid: the token could not be used and nothing was delivered.
            LineApiError: any other refusal.
        """
        endpoint = "/v2/bot/message/reply"
        answer, ambiguous = await self._post(endpoint, {"replyToken": reply_token, "messages": messages})
        if answer.status_code == 200:
            return ReplyOutcome()
        detail = _detail(answer)
        if answer.status_code == 400 and "reply token" in detail.lower():
            if ambiguous:
                logger.warning("LINE reply token refused after an ambiguous attempt; assuming it was delivered")
                return ReplyOutcome(uncertain=True)
            raise ReplyTokenInvalid(endpoint, 400, detail)
        raise LineApiError(endpoint, answer.status_code, detail)

    async def push(self, to: str, messages: list[Message]) -> None:
        """Send up to five messages to a user, group or room, at most once (retry key).

        Raises:
            LineApiError: LINE refused the messages or stayed unavailable.
        """
        endpoint = "/v2/bot/message/push"
        answer, _ = await self._post(
            endpoint, {"to": to, "messages": messages}, headers={"X-Line-Retry-Key": str(uuid.uuid4())}
        )
        if answer.status_code == 409:  # an earlier attempt with this key was accepted
            logger.info("LINE push accepted on an earlier attempt (409 for the retry key)")
            return
        if answer.status_code != 200:
            raise LineApiError(endpoint, answer.status_code, _detail(answer))

    async def show_loading(self, chat_id: str, seconds: int = 20) -> None:
        """Show the typing animation in a one-to-one chat; best effort, one attempt, never raises."""
        seconds = min(max(5, seconds - seconds % 5), 60)
        try:
            answer, _ = await self._post(
                "/v2/bot/chat/loading/start", {"chatId": chat_id, "loadingSeconds": seconds}, attempts=1
            )
        except LineApiError:
            return
        if answer.status_code >= 300:
            logger.info("LINE loading animation refused: HTTP %d", answer.status_code)


def _quota_spent(answer: httpx.Response) -> bool:
    """LINE's 429 for the month's message quota: retrying cannot help until the quota is raised."""
    return answer.status_code == 429 and "monthly limit" in _detail(answer).lower()


def _detail(answer: httpx.Response) -> str:
    """LINE's error message and details, without anything from our request."""
    try:
        body = answer.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    details = "; ".join(
        f"{d.get('property', '')}: {d.get('message', '')}" for d in body.get("details") or [] if isinstance(d, dict)
    )
    return f"{body.get('message', '')} {details}".strip()[:500]
