"""The telephone renewal line (R1; docs/telephone.md): a keypad dialogue in Cantonese,
Putonghua and English, served to VoiceXML and TwiML platforms on channel `telephone`.

dialogue.py   the call as a state machine (pure): keys in, what to say and collect out
keyed.py      what a keypad can send: card numbers with letters, PINs (pure)
prompts.py    every spoken text in English; locales/ holds Cantonese and Putonghua
speech.py     message keys to words in the call's language
line.py       one request of a call over the use cases, whatever the platform
twiml.py      the TwiML webhooks; voicexml.py the VoiceXML 2.1 documents
app.py        the HTTP endpoints of both

The app mounts this under /telephone: /telephone/twilio/{institution}/... and
/telephone/voicexml/{institution}/... A platform whose secret is not configured is not
served (404).
"""
