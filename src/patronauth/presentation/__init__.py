"""Presentation: what the front ends share to show results (messages in every language,
HTTP and ASGI helpers). It knows the domain's reason codes, never the adapters."""
