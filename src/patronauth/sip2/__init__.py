"""The SIP2 front end: self-checkout and self-service terminals (SPEC 4.5).

`messages` and `connection` are pure (bytes in, events out); `server` is the only
code with sockets; `answers` turns requests into calls of the self-service use cases.
"""
