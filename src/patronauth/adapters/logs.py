"""Log output of `patronauth serve`: uvicorn's text lines by default, or one JSON object
per line (`PATRONAUTH_LOG_FORMAT=json`) for a log collector.

A JSON line holds `time` (UTC, ISO 8601), `level`, `logger`, `message`, and `fields`:
the `extra` values the code gave (`component`, `event`, ...). Nothing in PatronAuth
logs a secret; as a second guard, a field whose name says secret, password, PIN or
token is written as "[redacted]".
"""

from __future__ import annotations

import copy
import json
import logging
from datetime import UTC, datetime
from typing import Any

from uvicorn.config import LOGGING_CONFIG

# The attributes every LogRecord has; anything else came in through `extra`.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}
_SECRET_WORDS = ("secret", "password", "pin", "token", "pepper", "authorization", "cookie")


def _safe(name: str, value: object) -> object:
    if any(word in name.lower() for word in _SECRET_WORDS):
        return "[redacted]"
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = {
            name: _safe(name, value)
            for name, value in record.__dict__.items()
            if name not in _STANDARD and not name.startswith("_")
        }
        if fields:
            line["fields"] = fields
        if record.exc_info and record.exc_info[0] is not None:
            # SQL parameters never appear in it: the engines hide them.
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def config(log_format: str) -> dict[str, Any]:
    """A logging.config.dictConfig for uvicorn and PatronAuth's own loggers."""
    result: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    result["loggers"]["patronauth"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    result["root"] = {"handlers": ["default"], "level": "WARNING"}
    if log_format == "json":
        json_formatter = {"()": f"{__name__}.JsonFormatter"}
        result["formatters"] = {"default": json_formatter, "access": json_formatter}
    return result


def configure(log_format: str) -> None:
    """The same output for a process that is not uvicorn's (the SIP2 server, commands)."""
    import logging.config

    logging.config.dictConfig(config(log_format))
