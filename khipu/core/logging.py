"""JSON logs, one object per line, carrying the request's or job's context.

The context (correlation_id, tenant_id, user_id, operation) lives in contextvars set by the HTTP
middleware and the job runner; every record logged inside picks it up.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from contextvars import ContextVar
from typing import Any

correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)
tenant_id: ContextVar[str | None] = ContextVar("tenant_id", default=None)
user_id: ContextVar[str | None] = ContextVar("user_id", default=None)
operation: ContextVar[str | None] = ContextVar("operation", default=None)

_CONTEXT = {
    "correlation_id": correlation_id,
    "tenant_id": tenant_id,
    "user_id": user_id,
    "operation": operation,
}
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
_base_factory = logging.getLogRecordFactory()


def _record_with_context(*args: Any, **kwargs: Any) -> logging.LogRecord:
    """Stamp the context onto every record when it is created, so any handler (and any later
    formatting) sees the values of the request or job that logged it."""
    record = _base_factory(*args, **kwargs)
    for name, var in _CONTEXT.items():
        value = var.get()
        if value is not None and not hasattr(record, name):
            setattr(record, name, value)
    return record


logging.setLogRecordFactory(_record_with_context)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn's own access log would duplicate ours, without the context.
    logging.getLogger("uvicorn.access").disabled = True
    for noisy in ("azure", "httpx", "arq.worker", "asyncio"):
        logging.getLogger(noisy).setLevel("WARNING")


def bind(**values: str | None) -> None:
    """Set context values for the rest of the current task."""
    for name, value in values.items():
        _CONTEXT[name].set(value)
