"""Redis commands as RESP bytes: the hash writes of a flush, encoded once, sent as they are.

This is the Python twin of what the Rust core emits, so the layout is a contract. One command
is a RESP array of bulk strings (text is UTF-8):

    *<argc>\\r\\n  then per argument  $<byte length>\\r\\n<bytes>\\r\\n

A list of hash writes is, per write in list order:

1. `HSET key f1 v1 f2 v2 ...` with the fields in the write's dict order, split into chunks of at
   most `HSET_CHUNK` arguments after the key (2,000 field/value pairs), the cut the FLUSH
   script makes; no HSET when the write has no fields;
2. `HDEL key a1 a2 ...` with `absent` in its order, chunked the same way, when there is any.

The commands are concatenated with nothing in between; `EncodedWrites.commands` is how many
there are, which is how many replies the transaction reads (one QUEUED each).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from .codec import HashWrite

HSET_CHUNK = 4000  # arguments after the key: what the FLUSH script passes to one HSET


@dataclass(frozen=True, slots=True)
class EncodedWrites:
    """Hash writes as RESP bytes, and the number of commands in them (replies to read)."""

    payload: bytes
    commands: int

    @classmethod
    def join(cls, parts: Sequence[EncodedWrites]) -> EncodedWrites:
        """Drains one after the other, as one payload (the layout has no separator)."""
        if len(parts) == 1:
            return parts[0]
        return cls(b"".join(p.payload for p in parts), sum(p.commands for p in parts))


def _bulk(value: bytes | str) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return b"$%d\r\n%b\r\n" % (len(data), data)


def encode_command(args: Sequence[bytes | str]) -> bytes:
    """One command as a RESP array of bulk strings."""
    parts = [b"*%d\r\n" % len(args)]
    parts += [_bulk(a) for a in args]
    return b"".join(parts)


@dataclass(frozen=True, slots=True)
class Commands:
    """Commands encoded as one RESP payload, and how many there are (replies to read).
    `raw`: the reader takes the replies as bytes (`replies.exchange` says when it can)."""

    payload: bytes
    count: int
    raw: bool = False

    @classmethod
    def of(cls, commands: Sequence[Sequence[bytes | str]], *, raw: bool = False) -> Commands:
        return cls(b"".join([encode_command(c) for c in commands]), len(commands), raw)


def encode_text_command(args: Sequence[str]) -> bytes:
    """encode_command for text arguments (entry ids, key and group names): built as one str
    and encoded once, a third of the cost for the flush's XACKs of thousands of ids. Lengths
    are character counts, so other text takes encode_command's way."""
    text = "".join(args)
    if not text.isascii():
        return encode_command(args)
    parts = [f"*{len(args)}\r\n"]
    parts += [f"${len(a)}\r\n{a}\r\n" for a in args]
    return "".join(parts).encode()


def _size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode())


def _command(verb: str, key: str, count: int, flat: Iterator[str], parts: list[str]) -> int:
    """Append `verb key` and `count` arguments from `flat`, HSET_CHUNK per command."""
    commands = 0
    head = f"${_size(key)}\r\n{key}\r\n"
    while count:
        take = min(count, HSET_CHUNK)
        parts.append(f"*{take + 2}\r\n${len(verb)}\r\n{verb}\r\n{head}")
        parts.extend(f"${_size(a)}\r\n{a}\r\n" for a in itertools.islice(flat, take))
        count -= take
        commands += 1
    return commands


def encode_hash_writes(writes: Iterable[HashWrite]) -> EncodedWrites:
    """The HSET and HDEL commands of `writes`, in the layout the module docstring fixes.

    Built as one str and encoded once: per-argument bytes formatting cost a third more. The
    lengths are byte lengths (`isascii` is a flag check, so ASCII text is measured for free).
    """
    parts: list[str] = []
    commands = 0
    for w in writes:
        fields = w.fields
        n = len(fields)
        if 0 < n <= HSET_CHUNK // 2:
            key = w.key
            parts.append(f"*{2 * n + 2}\r\n$4\r\nHSET\r\n${_size(key)}\r\n{key}\r\n")
            for f, v in fields.items():
                if f.isascii() and v.isascii():
                    parts.append(f"${len(f)}\r\n{f}\r\n${len(v)}\r\n{v}\r\n")
                else:
                    parts.append(f"${_size(f)}\r\n{f}\r\n${_size(v)}\r\n{v}\r\n")
            commands += 1
        elif n:
            flat = itertools.chain.from_iterable(fields.items())
            commands += _command("HSET", w.key, 2 * n, flat, parts)
        if w.absent:
            commands += _command("HDEL", w.key, len(w.absent), iter(w.absent), parts)
    return EncodedWrites("".join(parts).encode(), commands)
