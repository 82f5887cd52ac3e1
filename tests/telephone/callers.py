"""Callers as each platform would send their requests: signed, with the call id and the
turn token the last answer gave, reading back what is to be said."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit
from xml.etree import ElementTree as ET

import httpx
from twilio.request_validator import RequestValidator

from patronauth.presentation.i18n import message

TWILIO_TOKEN = "twilio-test-auth-token-0123456789"
VOICEXML_SECRET = "voicexml-test-shared-secret-0123456789"
PUBLIC = "https://library.test"
VXML = "{http://www.w3.org/2001/vxml}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

# How each platform names the three languages.
TAGS = {
    "twilio": {"yue": "yue-HK", "cmn": "cmn-CN", "en": "en-GB"},
    "voicexml": {"yue": "yue-HK", "cmn": "zh-CN", "en": "en-GB"},
}
LANGUAGE_KEYS = {"yue": "1", "cmn": "2", "en": "3"}


def refused(code: str, **params: int) -> bytes:
    """The body of a refusal: its reason code and English message (docs/telephone.md)."""
    if code == "call.keys_invalid":
        params = {"max": 40, **params}
    return f"{code}: {message(code, 'en', **params)}\n".encode()


@dataclass
class Heard:
    status: int
    body: bytes
    pieces: list[tuple[str, str]] = field(default_factory=list)  # (language tag, text)
    collects: bool = False
    ended: bool = False

    @property
    def text(self) -> str:
        return " ".join(text for _, text in self.pieces)

    @property
    def languages(self) -> set[str]:
        return {tag for tag, _ in self.pieces}


class Caller:
    platform: str

    def __init__(self, client: httpx.AsyncClient, institution: str, call_id: str) -> None:
        self.client = client
        self.institution = institution
        self.call_id = call_id
        self.next_url = ""
        self.turn = ""
        self.last: tuple[str, dict[str, str]] = ("", {})

    async def dial(self, caller: str = "+85291234567") -> Heard:
        raise NotImplementedError

    async def press(self, keys: str) -> Heard:
        raise NotImplementedError

    async def wait(self) -> Heard:
        raise NotImplementedError

    async def hang_up(self) -> int:
        raise NotImplementedError

    async def replay(self) -> Heard:
        """The last request once more, exactly as it was sent."""
        url, params = self.last
        return await self._send(url, params)

    async def _send(self, url: str, params: dict[str, str]) -> Heard:
        raise NotImplementedError


class TwilioCaller(Caller):
    platform = "twilio"

    def base(self) -> str:
        return f"{PUBLIC}/telephone/twilio/{self.institution}"

    async def post(
        self, url: str, params: dict[str, str], signature: str | None = None
    ) -> httpx.Response:
        sign = RequestValidator(TWILIO_TOKEN).compute_signature(url, params)
        headers = {"X-Twilio-Signature": sign if signature is None else signature}
        if signature == "":
            headers = {}
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        return await self.client.post(
            target,
            content=urlencode(params),
            headers={**headers, "Content-Type": "application/x-www-form-urlencoded"},
        )

    async def _send(self, url: str, params: dict[str, str]) -> Heard:
        self.last = (url, params)
        return self.read(await self.post(url, params))

    def read(self, answer: httpx.Response) -> Heard:
        heard = Heard(answer.status_code, answer.content)
        if answer.status_code != 200:
            return heard
        root = ET.fromstring(answer.content)  # noqa: S314 (our own answer)
        assert root.tag == "Response"
        for say in root.iter("Say"):
            heard.pieces.append((say.get("language", ""), say.text or ""))
        gather = root.find("Gather")
        if gather is not None:
            heard.collects = True
            self.next_url = gather.get("action", "")
        heard.ended = root.find("Hangup") is not None
        return heard

    def common(self) -> dict[str, str]:
        return {"CallSid": self.call_id, "AccountSid": "AC0123", "To": "+85229212345"}

    async def dial(self, caller: str = "+85291234567") -> Heard:
        params = {**self.common(), "From": caller, "CallStatus": "ringing"}
        return await self._send(f"{self.base()}/voice", params)

    async def press(self, keys: str) -> Heard:
        return await self._send(self.next_url, {**self.common(), "Digits": keys})

    async def wait(self) -> Heard:
        return await self._send(self.next_url, self.common())

    async def hang_up(self) -> int:
        params = {**self.common(), "CallStatus": "completed"}
        answer = await self.post(f"{self.base()}/status", params)
        return answer.status_code


def vxml_headers(method: str, target: str, body: bytes, now: int) -> dict[str, str]:
    message = b"\n".join([str(now).encode(), method.encode(), target.encode(), body])
    digest = hmac.new(VOICEXML_SECRET.encode(), message, hashlib.sha256).hexdigest()
    return {"X-PatronAuth-Timestamp": str(now), "X-PatronAuth-Signature": digest}


class VoiceXmlCaller(Caller):
    platform = "voicexml"
    now = 0  # the signing time (the app's clock), set by the test

    def base(self) -> str:
        return f"{PUBLIC}/telephone/voicexml/{self.institution}"

    async def post(
        self, url: str, params: dict[str, str], headers: dict[str, str] | None = None
    ) -> httpx.Response:
        body = urlencode(params).encode()
        target = urlsplit(url).path
        signed = vxml_headers("POST", target, body, self.now) if headers is None else headers
        return await self.client.post(
            target,
            content=body,
            headers={**signed, "Content-Type": "application/x-www-form-urlencoded"},
        )

    async def _send(self, url: str, params: dict[str, str]) -> Heard:
        self.last = (url, params)
        return self.read(await self.post(url, params))

    def read(self, answer: httpx.Response) -> Heard:
        heard = Heard(answer.status_code, answer.content)
        if answer.status_code != 200:
            return heard
        root = ET.fromstring(answer.content)  # noqa: S314 (our own answer)
        assert root.tag == f"{VXML}vxml"
        for prompt in root.iter(f"{VXML}prompt"):
            heard.pieces.append((prompt.get(XML_LANG, ""), prompt.text or ""))
        for var in root.iter(f"{VXML}var"):
            if var.get("name") == "turn":
                self.turn = re.fullmatch(r"'(.*)'", var.get("expr", "")).group(1)  # type: ignore[union-attr]
        submit = root.find(f".//{VXML}filled/{VXML}submit")
        heard.collects = submit is not None
        if submit is not None:
            self.next_url = submit.get("next", "")
        heard.ended = not heard.collects
        return heard

    async def dial(self, caller: str = "+85291234567") -> Heard:
        return await self._send(f"{self.base()}/start", {"callid": self.call_id, "caller": caller})

    def _input(self, event: str, keys: str | None = None) -> dict[str, str]:
        params = {"callid": self.call_id, "turn": self.turn, "event": event}
        if keys is not None:
            params["keys"] = keys
        return params

    async def press(self, keys: str) -> Heard:
        return await self._send(self.next_url, self._input("keys", keys))

    async def wait(self) -> Heard:
        return await self._send(self.next_url, self._input("timeout"))

    async def hang_up(self) -> int:
        answer = await self.post(f"{self.base()}/input", self._input("hangup"))
        return answer.status_code


CALLERS: dict[str, type[Caller]] = {"twilio": TwilioCaller, "voicexml": VoiceXmlCaller}
