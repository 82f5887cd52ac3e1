"""The line as VoiceXML 2.1 documents (docs/telephone.md), for contact-centre IVR platforms.

    POST start     a call comes in (`callid`, `caller`): the first document
    POST input     what the caller did (`callid`, `turn`, `event`: keys, timeout, nomatch
                   or hangup; `keys`), sent by the document's <submit> (or <data> on
                   hang-up, the one fetch a disconnected call may still make)

The call id and the one-time turn token travel in the posted body, never in a URL.
Every request is signed with the shared secret (`PATRONAUTH_VOICEXML_SECRET`): the
header `X-PatronAuth-Timestamp` (Unix seconds) and `X-PatronAuth-Signature`, the hex
HMAC-SHA256 of `timestamp \\n METHOD \\n path?query \\n body`; a signature more than
five minutes old, or from the future, is refused.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from xml.etree import ElementTree as ET

from patronauth.telephone import dialogue as d
from patronauth.telephone.keyed import MAX_KEYS
from patronauth.telephone.line import Answer, Refusal, checked_keys

PLATFORM = "voicexml"
NAMESPACE = "http://www.w3.org/2001/vxml"
# xml:lang of each language (RFC 3066 tags, as VoiceXML 2.1 takes them).
LANGUAGES = {"yue": "yue-HK", "cmn": "zh-CN", "en": "en-GB"}
TOLERANCE_SECONDS = 300
KEYS = [*"0123456789", "*"]


def signature(secret: str, timestamp: str, method: str, target: str, body: bytes) -> str:
    message = b"\n".join([timestamp.encode(), method.encode(), target.encode(), body])
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


class Signatures:
    def __init__(self, secret: str) -> None:
        self.secret = secret

    def check(
        self, headers: Mapping[str, str], method: str, target: str, body: bytes, now: float
    ) -> None:
        timestamp = headers.get("x-patronauth-timestamp", "")
        given = headers.get("x-patronauth-signature", "")
        if not timestamp.isdigit() or len(timestamp) > 12 or not given:
            raise Refusal("call.signature_invalid", 403)
        if abs(now - int(timestamp)) > TOLERANCE_SECONDS:
            raise Refusal("call.signature_stale", 403)
        expected = signature(self.secret, timestamp, method, target, body)
        if not hmac.compare_digest(expected, given.lower()):
            raise Refusal("call.signature_invalid", 403)


def event(params: Mapping[str, str]) -> d.Event:
    match params.get("event", ""):
        case "keys":
            return d.Keys(checked_keys(params.get("keys", "")))
        case "timeout":
            return d.Timeout()
        case "nomatch":
            return d.Keys("")  # keys that match no entry: an invalid entry
        case "hangup":
            return d.HangUp()
    raise Refusal("call.event_invalid")


def _el(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    element.text = text
    return element


def _prompts(parent: ET.Element, answer: Answer) -> None:
    for piece in answer.spoken:
        prompt = _el(parent, "prompt", piece.text)
        prompt.set("{http://www.w3.org/XML/1998/namespace}lang", LANGUAGES[piece.language])


def _grammar(field: ET.Element, collect: d.Collect) -> None:
    grammar = _el(field, "grammar", mode="dtmf", version="1.0", root="keys")
    rule = _el(grammar, "rule", id="keys", scope="public")
    repeat = "1" if not collect.finish_on_hash else f"1-{MAX_KEYS}"
    item = _el(rule, "item", repeat=repeat)
    choice = _el(item, "one-of")
    for key in KEYS:
        _el(choice, "item", key)


def _submit(parent: ET.Element, url: str, event_name: str, *, keys: bool = False) -> None:
    _el(parent, "assign", name="event", expr=f"'{event_name}'")
    names = "callid turn event keys" if keys else "callid turn event"
    _el(parent, "submit", next=url, method="post", namelist=names)


def document(answer: Answer, input_url: str, call_id: str) -> bytes:
    root = ET.Element("vxml", {"version": "2.1", "xmlns": NAMESPACE})
    root.set("{http://www.w3.org/XML/1998/namespace}lang", LANGUAGES[answer.language])
    if answer.collect is None or answer.ended:
        form = _el(root, "form", id="end")
        block = _el(form, "block")
        _prompts(block, answer)
        _el(block, "exit")
        return _bytes(root)
    # Quoted ECMAScript strings: the call id and token hold no quote (both are checked).
    _el(root, "var", name="callid", expr=f"'{call_id}'")
    _el(root, "var", name="turn", expr=f"'{answer.turn}'")
    _el(root, "var", name="event", expr="'keys'")
    hangup = _el(root, "catch", event="connection.disconnect.hangup")
    _el(hangup, "assign", name="event", expr="'hangup'")
    _el(hangup, "data", src=input_url, method="post", namelist="callid turn event")
    _el(hangup, "exit")
    form = _el(root, "form", id="turn")
    collect = answer.collect
    _el(form, "property", name="inputmodes", value="dtmf")
    _el(form, "property", name="timeout", value=f"{collect.timeout_seconds}s")
    if collect.finish_on_hash:
        _el(form, "property", name="termchar", value="#")
    field = _el(form, "field", name="keys")
    _grammar(field, collect)
    _prompts(field, answer)
    _submit(_el(field, "noinput"), input_url, "timeout")
    _submit(_el(field, "nomatch"), input_url, "nomatch")
    _submit(_el(field, "filled"), input_url, "keys", keys=True)
    return _bytes(root)


def _bytes(root: ET.Element) -> bytes:
    body = ET.tostring(root, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body).encode("utf-8")


def ended_reply() -> bytes:
    """The answer to the hang-up fetch: nothing more to do."""
    root = ET.Element("vxml", {"version": "2.1", "xmlns": NAMESPACE})
    _el(_el(_el(root, "form", id="end"), "block"), "exit")
    return _bytes(root)
