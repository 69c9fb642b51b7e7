"""structlog set up for JSON lines on stderr, one object per event."""

from __future__ import annotations

import logging
import sys

import structlog


def configure_logging(level: str = "info", *, worker: str | None = None) -> None:
    """JSON logs; `worker` is bound to every line (partition is bound by each partition task)."""
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.clear_contextvars()
    if worker is not None:
        structlog.contextvars.bind_contextvars(worker=worker)
