"""Generated conversations for the ops pages: drive the real bot over REST like callers would.

Questions come from the held-out set (tests/heldout/heldout.yml: real-sounding,
never trained on, so some are misread as they would be in service) in the hotline's
proportions (seed 000: loans 68%, tariffs 11%...), plus scripted flows: follow-ups,
button clicks, messages the bot cannot place, handoffs with a phone number, a
complaint, a damage report, greetings and thanks. When a console login is given,
staff handle the tickets through the web console (claim, reply, resolve) and the
caller rates the service, so response times and ratings are real too.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx

from bot.ops.export import nlu_examples
from bot.ops.synthetic import random_letters, synthetic_metadata, synthetic_sender
from bot.settings import ROOT

HELDOUT = ROOT / "tests" / "heldout" / "heldout.yml"
TOPIC_WEIGHTS = {
    "loan_ask": 68,
    "us_tariff_ask": 11,
    "policy_ask": 7,
    "policy_find_scheme": 3,
    "debt_negotiation_ask": 4,
    "digital_rd_ask": 4,
    "disaster_ask": 3,
}
FLOW_WEIGHTS = {
    "topic": 45,
    "greet_topic_thanks": 12,
    "follow_button": 10,
    "fallback": 10,
    "fallback_to_person": 4,
    "handoff": 8,
    "complaint": 3,
    "disaster_report": 2,
    "out_of_scope": 6,
}
FOLLOW_UPS = ("那利率呢", "要準備哪些文件", "申請期限到什麼時候", "那額度是多少", "要去哪裡申請")
UNCLEAR = ("我想問一下", "可以幫我看一下嗎", "請問一下那個", "想問那個東西", "麻煩幫我查一下", "不好意思請問")
NAMES = ("陳小姐 美玲小吃店", "林先生", "王老闆 王記五金行", "張經理 張家烘焙坊", "李小姐")
PHONES = ("0912-345-678", "02-2345-6789", "0987654321", "04-2234-5678", "0933-222-111")
STAFF_REPLIES = ("您好，我是馬上辦服務中心的客服人員，這個問題我幫您確認。", "已幫您查到相關措施，稍後會寄資料給您。")
TICKET = re.compile(r"編號\s*(\d+)")
WEB_CHAT_FLOWS = ("topic", "greet_topic_thanks", "out_of_scope")  # flows that never read the replies
WEB_CHAT_EVERY = 4  # of those, every 4th goes through the web chat when a chat origin is given
WAIT = 60.0


class SeedFailed(RuntimeError):
    """The bot or the console did not answer as expected (the message says where)."""


@dataclass(frozen=True, slots=True)
class ConsoleLogin:
    url: str
    username: str
    password: str


def load_heldout(path: Path = HELDOUT) -> dict[str, list[str]]:
    return nlu_examples(path)


class Talker(Protocol):
    """What a flow needs of a conversation: its sender id and a way to say a text."""

    sender: str

    def say(self, text: str) -> list[dict[str, Any]]: ...


class Caller:
    """One conversation over the REST channel."""

    def __init__(self, http: httpx.Client, rasa_url: str, sender: str) -> None:
        self.http, self.url, self.sender = http, rasa_url.rstrip("/") + "/webhooks/rest/webhook", sender
        self.messages = 0

    def say(self, text: str) -> list[dict[str, Any]]:
        try:
            reply = self.http.post(
                self.url, json={"sender": self.sender, "message": text, "metadata": synthetic_metadata("seed")}
            )
        except httpx.HTTPError as exc:
            raise SeedFailed(f"the bot at {self.url} did not answer: {type(exc).__name__}") from exc
        if reply.status_code != 200:
            raise SeedFailed(f"the bot answered HTTP {reply.status_code} to {text!r}")
        self.messages += 1
        return list(reply.json() or [])


class WebChatCaller:
    """One conversation over Rasa's socket.io channel, as the /chat page talks to it.

    The texts are decided up front (the web chat flows do not read replies); each is
    sent once the first answer to the one before has arrived. The client runs in its
    own thread and event loop, so it works beside callers that hold a loop (Playwright).
    """

    def __init__(self, rasa_url: str, origin: str) -> None:
        self.rasa_url, self.origin = rasa_url.rstrip("/"), origin
        self.texts: list[str] = []
        self.messages = 0
        self.sender = ""

    def say(self, text: str) -> list[dict[str, Any]]:
        self.texts.append(text)
        return []

    def send(self) -> None:
        with ThreadPoolExecutor(max_workers=1) as worker:
            self.sender = worker.submit(asyncio.run, self._converse()).result()
        self.messages = len(self.texts)

    async def _converse(self) -> str:
        import socketio

        client = socketio.AsyncClient(reconnection=False)
        replies: asyncio.Queue[Any] = asyncio.Queue()
        confirmed: asyncio.Queue[Any] = asyncio.Queue()
        client.on("bot_uttered", replies.put_nowait)
        client.on("session_confirm", confirmed.put_nowait)
        try:
            # Long-polling, as tests/e2e/test_webchat.py: Rasa's pinned aiohttp lacks this client's websocket.
            await client.connect(
                self.rasa_url, headers={"Origin": self.origin}, transports=["polling"], wait_timeout=30
            )
            await client.emit("session_request", {"session_id": None})
            session = str(await asyncio.wait_for(confirmed.get(), WAIT))
            for text in self.texts:
                await client.emit(
                    "user_uttered", {"message": text, "session_id": session, "metadata": synthetic_metadata("seed")}
                )
                await asyncio.wait_for(replies.get(), WAIT)
        except (OSError, asyncio.TimeoutError, socketio.exceptions.SocketIOError) as exc:
            raise SeedFailed(f"the web chat at {self.rasa_url} did not answer: {type(exc).__name__}") from exc
        finally:
            await client.eio.disconnect(abort=True)
        return session


def _text(replies: list[dict[str, Any]]) -> str:
    return "\n".join(str(r.get("text") or "") for r in replies)


def _payloads(replies: list[dict[str, Any]]) -> list[str]:
    return [
        str(b["payload"]) for r in replies for b in r.get("buttons") or [] if str(b.get("payload", "")).startswith("/")
    ]


class Seeder:
    def __init__(
        self,
        rasa_url: str,
        rng: random.Random,
        examples: dict[str, list[str]],
        console: ConsoleLogin | None,
        http: httpx.Client,
    ) -> None:
        self.rasa_url, self.rng, self.examples, self.console, self.http = rasa_url, rng, examples, console, http
        self.staff: httpx.Client | None = None
        self.counts: Counter[str] = Counter()

    def pick(self, intent: str) -> str:
        return self.rng.choice(self.examples[intent])

    def topic_question(self) -> str:
        intents = list(TOPIC_WEIGHTS)
        return self.pick(self.rng.choices(intents, weights=[TOPIC_WEIGHTS[i] for i in intents])[0])

    def run(self, caller: Talker, flow: str) -> None:
        getattr(self, f"flow_{flow}")(caller)
        self.counts[flow] += 1

    # --- flows ---------------------------------------------------------------------
    def flow_topic(self, caller: Talker) -> None:
        caller.say(self.topic_question())
        if self.rng.random() < 0.4:
            caller.say(self.rng.choice(FOLLOW_UPS))

    def flow_greet_topic_thanks(self, caller: Talker) -> None:
        caller.say(self.pick("chitchat_greet"))
        caller.say(self.topic_question())
        caller.say(self.pick("chitchat_thanks"))

    def flow_follow_button(self, caller: Talker) -> None:
        payloads = _payloads(caller.say(self.topic_question()))
        if payloads:
            caller.say(payloads[0])
        caller.say(self.rng.choice(FOLLOW_UPS))

    def flow_fallback(self, caller: Talker) -> None:
        caller.say(self.rng.choice(UNCLEAR))
        caller.say(self.topic_question())

    def flow_fallback_to_person(self, caller: Talker) -> None:
        first, second = self.rng.sample(UNCLEAR, 2)
        caller.say(first)
        offered = caller.say(second)
        self.handoff(caller, "/handoff_request" if "/handoff_request" in _payloads(offered) else "我想找真人")

    def flow_handoff(self, caller: Talker) -> None:
        if self.rng.random() < 0.5:
            caller.say(self.topic_question())
        self.handoff(caller, self.pick("handoff_request"))

    def flow_complaint(self, caller: Talker) -> None:
        self.handoff(caller, self.pick("handoff_complaint"))

    def flow_out_of_scope(self, caller: Talker) -> None:
        caller.say(self.pick("out_of_scope"))

    def flow_disaster_report(self, caller: Talker) -> None:
        if "公司或店家名稱" not in _text(caller.say("工廠淹水了 想通報")):
            raise SeedFailed(f"the damage report of {caller.sender} did not start the report form")
        for answer in ["美玲小吃店", "花蓮縣光復鄉", "水災", "設備泡水停工", "50萬", self.rng.choice(PHONES)]:
            if TICKET.search(_text(caller.say(answer))):
                self.counts["tickets"] += 1
                return
        raise SeedFailed(f"the damage report of {caller.sender} did not open a ticket")

    def handoff(self, caller: Talker, opening: str) -> None:
        """Ask for a person (the plain request when the opening was read otherwise), fill the form."""
        if "真人" not in _text(caller.say(opening)):
            caller.say("我想找真人")
        caller.say("好，請專人聯絡我")
        caller.say(self.rng.choice(NAMES))
        caller.say(self.rng.choice(PHONES))
        created = _text(caller.say(self.rng.choice(["不限", "下午", "上午"])))
        found = TICKET.search(created)
        if not found:
            raise SeedFailed(f"the handoff of {caller.sender} did not open a ticket: {created[:80]!r}")
        self.counts["tickets"] += 1
        if self.console is not None:
            self.staff_handles(int(found.group(1)))
            rating = self.rng.choice([5, 5, 5, 4, 4, 3, 2, 1])
            caller.say(f'/handoff_rate{{"rating":"{rating}"}}')
            self.counts["ratings"] += 1

    # --- the staff side, through the web console ----------------------------------------
    def staff_handles(self, ticket: int) -> None:
        assert self.console is not None
        if self.staff is None:
            self.staff = httpx.Client(base_url=self.console.url, timeout=60, follow_redirects=False)
            csrf = _csrf(self.staff.get("/console/login").text)
            login = self.staff.post(
                "/console/login",
                data={"csrf": csrf, "username": self.console.username, "password": self.console.password},
            )
            if login.status_code != 303:
                raise SeedFailed(f"console login as {self.console.username} failed (HTTP {login.status_code})")
        csrf = _csrf(self.staff.get(f"/console/tickets/{ticket}").text)
        for path, data in (
            (f"/console/tickets/{ticket}/claim", {}),
            (f"/console/tickets/{ticket}/reply", {"text": self.rng.choice(STAFF_REPLIES)}),
            (f"/console/tickets/{ticket}/resolve", {"outcome": "replied"}),
        ):
            reply = self.staff.post(path, data={"csrf": csrf, **data})
            if reply.status_code != 303:
                reason = re.search(r'role="alert">([^<]*)<', reply.text)
                raise SeedFailed(
                    f"console {path} answered HTTP {reply.status_code}" + (f": {reason.group(1)}" if reason else "")
                )


def schedule(count: int, rng: random.Random) -> list[str]:
    """``count`` flows in FLOW_WEIGHTS proportions, each at least once when count allows, shuffled."""
    total = sum(FLOW_WEIGHTS.values())
    plan = [flow for flow, weight in FLOW_WEIGHTS.items() for _ in range(max(1, round(count * weight / total)))]
    plan = plan[:count] if len(plan) >= count else plan + ["topic"] * (count - len(plan))
    rng.shuffle(plan)
    return plan


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    if not found:
        raise SeedFailed("no CSRF token on the console page (not logged in?)")
    return found.group(1)


def seed(
    rasa_url: str,
    count: int = 40,
    random_seed: int = 7,
    console: ConsoleLogin | None = None,
    heldout: Path = HELDOUT,
    chat_origin: str | None = None,
) -> dict[str, Any]:
    """Drive ``count`` conversations; returns what was done (flows, messages, tickets, ratings, senders).

    With ``chat_origin`` (the web app's address, an origin the socket accepts) some
    simple conversations go through the web chat's socket.io channel instead of REST.
    """
    rng = random.Random(random_seed)
    run = random_letters(6)  # new senders on every run: a re-run adds conversations
    senders: list[str] = []
    messages = 0
    with httpx.Client(timeout=120) as http:
        seeder = Seeder(rasa_url, rng, load_heldout(heldout), console, http)
        try:
            simple = 0
            for number, flow in enumerate(schedule(count, rng)):
                simple += flow in WEB_CHAT_FLOWS
                if chat_origin and flow in WEB_CHAT_FLOWS and simple % WEB_CHAT_EVERY == 0:
                    chat = WebChatCaller(rasa_url, chat_origin)
                    seeder.run(chat, flow)
                    chat.send()
                    seeder.counts["web_chat"] += 1
                    senders.append(chat.sender)
                    messages += chat.messages
                    continue
                caller = Caller(http, rasa_url, synthetic_sender("seed", f"{run}-{number:03d}"))
                seeder.run(caller, flow)
                senders.append(caller.sender)
                messages += caller.messages
        finally:
            if seeder.staff is not None:
                seeder.staff.close()
    return {"conversations": len(senders), "messages": messages, "flows": dict(seeder.counts), "senders": senders}
