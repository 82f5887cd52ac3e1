"""The line as TwiML webhooks (docs/telephone.md), written with the provider's own library.

    POST voice     a call comes in (CallSid, From): the first turn
    POST input     a <Gather> finished (CallSid, Digits; none: no key before the timeout),
                   its URL carrying the one-time turn token
    POST status    the status callback: a call that is completed, failed, busy, unanswered
                   or cancelled ends, and its state is dropped

Every request must carry a valid `X-Twilio-Signature`, checked with `twilio`'s own
`RequestValidator` over the public URL and the posted parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Gather, VoiceResponse

from patronauth.telephone import dialogue as d
from patronauth.telephone.line import Answer, Line, Refusal, checked_keys

PLATFORM = "twilio"
# Twilio's names for the three languages, and a voice that speaks each.
LANGUAGES = {"yue": "yue-HK", "cmn": "cmn-CN", "en": "en-GB"}
VOICES = {
    "yue": "Google.yue-HK-Standard-A",
    "cmn": "Google.cmn-CN-Standard-A",
    "en": "Google.en-GB-Standard-A",
}
ENDED = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})


class Signatures:
    def __init__(self, auth_token: str, public_url: str) -> None:
        self.validator = RequestValidator(auth_token)
        self.public_url = public_url

    def check(self, path: str, query: str, params: Mapping[str, str], signature: str) -> None:
        url = self.public_url + path + (f"?{query}" if query else "")
        if not signature or not self.validator.validate(url, dict(params), signature):
            raise Refusal("call.signature_invalid", 403)


def document(answer: Answer, input_url: str) -> str:
    response = VoiceResponse()
    target: VoiceResponse | Gather = response
    if answer.collect is not None:
        one_key = not answer.collect.finish_on_hash
        target = response.gather(
            input="dtmf",
            action=f"{input_url}?turn={quote(answer.turn)}",
            method="POST",
            timeout=answer.collect.timeout_seconds,
            finish_on_key="" if one_key else "#",
            num_digits=1 if one_key else None,
            action_on_empty_result=True,
        )
    for piece in answer.spoken:
        target.say(piece.text, language=LANGUAGES[piece.language], voice=VOICES[piece.language])
    if answer.ended:
        response.hangup()
    return str(response.to_xml())


def event(params: Mapping[str, str]) -> d.Event:
    digits = params.get("Digits", "")
    if not digits:
        return d.Timeout()
    return d.Keys(checked_keys(digits))


def hang_up_if_ended(line: Line, params: Mapping[str, str]) -> None:
    if params.get("CallStatus", "") in ENDED:
        line.hang_up(params.get("CallSid", ""))
