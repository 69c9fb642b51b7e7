"""What redis-py hands back and takes: reply text and command lists.

Replies come as bytes (or str with decode_responses). Everything the service reads back is its
own UTF-8 text or an entry id, but dead letters carry whatever bytes a producer wrote, so the
decoding never raises: invalid UTF-8 becomes U+FFFD.
"""

from __future__ import annotations

Command = tuple[str, ...]


def text(value: bytes | str) -> str:
    """A reply value as text (bytes decoded as UTF-8, invalid sequences replaced)."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
