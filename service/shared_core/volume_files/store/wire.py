"""What redis-py hands back and takes: reply text and command lists.

Replies come as bytes (or str with decode_responses). Everything the service reads back is its
own UTF-8 text or an entry id, but dead letters carry whatever bytes a producer wrote, so the
decoding never raises: invalid UTF-8 becomes U+FFFD.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

Command = tuple[str, ...]

# A stream entry's fields as read: a mapping of bytes (or str with decode_responses), or the
# flat name, value, ... list of a raw reply (`store.replies`).
Fields = Mapping[bytes, bytes] | Mapping[str, str] | Sequence[bytes]


def field_pairs(fields: Mapping[Any, Any] | Sequence[Any]) -> Iterable[tuple[Any, Any]]:
    """A stream entry's or a hash's fields as (name, value) pairs, whichever form they came
    in: a mapping (redis-py's callbacks, RESP3 maps) or a raw reply's flat list."""
    if isinstance(fields, Mapping):
        return fields.items()
    it = iter(fields)
    return zip(it, it, strict=True)


def field_map(fields: Fields) -> Mapping[bytes, bytes] | Mapping[str, str]:
    """The fields as a mapping (a raw reply's flat list made into a dict)."""
    if isinstance(fields, Mapping):
        return fields
    it = iter(fields)
    return dict(zip(it, it, strict=True))


def text(value: bytes | str) -> str:
    """A reply value as text (bytes decoded as UTF-8, invalid sequences replaced)."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
