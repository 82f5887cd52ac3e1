"""What the platforms are sent: TwiML that the provider's own library models build back
byte for byte, and VoiceXML 2.1 documents that are well-formed and use only elements
and attributes the recommendation defines, each in a place it allows."""

from __future__ import annotations

import re
from xml.etree import ElementTree as ET

import httpx
import pytest
from twilio.twiml import TwiML
from twilio.twiml.voice_response import VoiceResponse

from patronauth.bootstrap import App
from tests.support import clock_of
from tests.telephone.callers import VXML, XML_LANG, Caller, TwilioCaller, VoiceXmlCaller
from tests.telephone.library import KEYED_CARD, PIN, stocked

pytestmark = pytest.mark.anyio

XML = "{http://www.w3.org/XML/1998/namespace}"

# From the VoiceXML 2.0 Recommendation (W3C, 16 March 2004) and the 2.1 additions
# (W3C, 19 June 2007): each element this line may send, its attributes, and the
# elements it may appear in. Inline grammars are SRGS 1.0 XML, which VoiceXML takes
# into its own namespace (rule, one-of, item). "_" is the document's root.
EXECUTABLE = {"block", "catch", "error", "filled", "help", "if", "noinput", "nomatch", "foreach"}
FORM_ITEMS = {"field", "record", "transfer", "subdialog", "object", "initial", "menu"}
FETCH = {"fetchhint", "fetchtimeout", "maxage", "maxstale"}
VOICEXML_21: dict[str, tuple[set[str], set[str]]] = {
    "vxml": (
        {"version", "xmlns", f"{XML}base", f"{XML}lang", "application", "xmlns:xsi",
         "xsi:schemaLocation"},
        {"_"},
    ),
    "var": ({"name", "expr"}, {"vxml", "form"} | EXECUTABLE),
    "catch": ({"event", "count", "cond"}, {"vxml", "form"} | FORM_ITEMS),
    "noinput": ({"count", "cond"}, {"vxml", "form"} | FORM_ITEMS),
    "nomatch": ({"count", "cond"}, {"vxml", "form"} | FORM_ITEMS),
    "filled": ({"mode", "namelist"}, {"form"} | FORM_ITEMS),
    "form": ({"id", "scope"}, {"vxml"}),
    "block": ({"name", "expr", "cond"}, {"form"}),
    "field": ({"name", "expr", "cond", "type", "slot", "modal"}, {"form"}),
    "property": ({"name", "value"}, {"vxml", "form"} | FORM_ITEMS),
    "prompt": (
        {"bargein", "bargeintype", "cond", "count", "timeout", f"{XML}lang", f"{XML}base"},
        {"form", *FORM_ITEMS} | EXECUTABLE,
    ),
    "assign": ({"name", "expr"}, EXECUTABLE),
    "exit": ({"expr", "namelist"}, EXECUTABLE),
    "submit": (
        {"next", "expr", "namelist", "method", "enctype", "fetchaudio"} | FETCH,
        EXECUTABLE,
    ),
    # VoiceXML 2.1, section 5: <data> fetches XML without leaving the document.
    "data": (
        {"name", "src", "srcexpr", "namelist", "method", "enctype"} | FETCH,
        {"vxml", "form"} | EXECUTABLE,
    ),
    "grammar": (
        {"version", f"{XML}lang", "mode", "root", "tag-format", f"{XML}base", "src",
         "srcexpr", "scope", "type", "weight"} | FETCH,
        {"vxml", "form", "field", "link", "choice", "record", "transfer", "initial"},
    ),
    "rule": ({"id", "scope"}, {"grammar"}),
    "one-of": ({f"{XML}lang"}, {"rule", "item"}),
    "item": ({"repeat", "repeat-prob", "weight", f"{XML}lang"}, {"rule", "item", "one-of"}),
}  # fmt: skip
REQUIRED = {
    "vxml": {"version"},
    "var": {"name"},
    "assign": {"name", "expr"},
    "property": {"name", "value"},
    "field": {"name"},
    "catch": {"event"},
    "rule": {"id"},
}
# The tags each platform is told the languages by.
VOICEXML_LANGUAGES = {"yue-HK", "zh-CN", "en-GB"}


async def documents(caller: Caller) -> list[bytes]:
    """Every kind of answer of one call: the languages, card, PIN, menu, loans, a
    renewal, a wrong entry, a timeout, the goodbye; and a library with no line."""
    bodies = []
    for step in (
        caller.dial(),
        caller.press("3"),
        caller.press(KEYED_CARD),
        caller.press(PIN),
        caller.press("1"),
        caller.press("7"),
        caller.wait(),
        caller.press("2"),
        caller.press("3"),
        caller.press("1"),
        caller.press("9"),
    ):
        heard = await step
        assert heard.status == 200, heard.body
        bodies.append(heard.body)
    return bodies


@pytest.fixture
def loaded(line: App) -> App:
    library = stocked(line)
    library.lend("HKPL0001", 2)
    return line


def check_voicexml(element: ET.Element, parent: str) -> None:
    assert element.tag.startswith(VXML), element.tag
    name = element.tag.removeprefix(VXML)
    assert name in VOICEXML_21, f"<{name}> is not a VoiceXML 2.1 element this line may use"
    attributes, parents = VOICEXML_21[name]
    assert parent in parents, f"<{name}> may not appear in <{parent}>"
    given = set(element.attrib)
    assert given <= attributes, f"<{name}>: {given - attributes}"
    assert REQUIRED.get(name, set()) <= given, f"<{name}> lacks {REQUIRED[name] - given}"
    if name == "grammar" and "src" not in given:
        assert element.get("mode") == "dtmf"
        assert element.get("root") in {r.get("id") for r in element.iter(f"{VXML}rule")}
    if name == "submit" or name == "data":
        assert element.get("method") == "post"
        assert not re.search(r"[?&](callid|turn)=", element.get("next", element.get("src", "")))
    for child in element:
        check_voicexml(child, name)


async def test_voicexml_documents_use_only_voicexml_21_in_allowed_places(
    loaded: App, client: httpx.AsyncClient
) -> None:
    VoiceXmlCaller.now = int(clock_of(loaded).now().timestamp())
    bodies = await documents(VoiceXmlCaller(client, "hkpl", "vxml-call-1"))
    bodies.append((await VoiceXmlCaller(client, "hkct", "vxml-call-2").dial()).body)
    for body in bodies:
        assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
        root = ET.fromstring(body)  # noqa: S314 (our own answer) - well-formed, or this raises
        assert root.tag == f"{VXML}vxml"
        assert root.get("version") == "2.1"
        check_voicexml(root, "_")
        langs = {p.get(XML_LANG) for p in root.iter(f"{VXML}prompt")}
        assert langs <= VOICEXML_LANGUAGES
    # The call id and the token are in the document's variables, posted in the body.
    first = ET.fromstring(bodies[0])  # noqa: S314
    names = {v.get("name"): v.get("expr") for v in first.iter(f"{VXML}var")}
    assert names["callid"] == "'vxml-call-1'"


def rebuild(element: ET.Element, model: TwiML) -> None:
    """Build `element`'s children with the twilio library's own verb and noun models: an
    element its parent's model has no method for, or an attribute the method does not
    take as its own, fails here."""
    for child in element:
        method = re.sub(r"(?<!^)(?=[A-Z])", "_", child.tag).lower()
        builder = getattr(model, method, None)
        assert builder is not None, f"<{child.tag}> is not a child of <{element.tag}> in TwiML"
        attrs = {re.sub(r"(?<!^)(?=[A-Z])", "_", k).lower(): v for k, v in child.attrib.items()}
        built = builder(child.text, **attrs) if child.text is not None else builder(**attrs)
        rebuild(child, built)


async def test_twiml_answers_are_what_the_providers_library_builds(
    loaded: App, client: httpx.AsyncClient
) -> None:
    bodies = await documents(TwilioCaller(client, "hkpl", "CA" + "1" * 32))
    bodies.append((await TwilioCaller(client, "hkct", "CA" + "2" * 32).dial()).body)
    for body in bodies:
        root = ET.fromstring(body)  # noqa: S314 (our own answer)
        assert root.tag == "Response"
        response = VoiceResponse()
        rebuild(root, response)
        assert response.to_xml().encode() == body
        for say in root.iter("Say"):
            assert say.get("language") in {"yue-HK", "cmn-CN", "en-GB"}
            assert say.get("voice", "").startswith("Google." + say.get("language", ""))
        for gather in root.iter("Gather"):
            assert gather.get("input") == "dtmf"
            assert gather.get("actionOnEmptyResult") == "true"
            assert re.fullmatch(
                r"https://library\.test/telephone/twilio/hkpl/input\?turn=[\w-]{16,}",
                gather.get("action", ""),
            )
