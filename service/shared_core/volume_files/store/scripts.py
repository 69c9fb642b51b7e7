"""Server-side scripts: leases, membership and the fenced flush.

Everything that must be atomic with an ownership check runs inside Redis, so a worker that lost
its lease (a GC pause, a partition) cannot write state, dead letters, checkpoints or XACKs: the
flush script compares the lease token first and refuses with FENCED. All keys a script touches
are passed in KEYS.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import orjson

from .codec import HashWrite

ACQUIRE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local gen = redis.call('INCR', KEYS[2])
local token = ARGV[1] .. ':' .. gen
redis.call('SET', KEYS[1], token, 'PX', ARGV[2])
return token
"""

RENEW = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""

RELEASE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
"""

HEARTBEAT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if ARGV[1] ~= '' then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
  redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[2])
end
return redis.call('ZRANGE', KEYS[1], 0, -1)
"""

LEAVE = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
return 1
"""

# KEYS: lease, checkpoint, stream, dead-letter stream, then one key per hash write.
# ARGV: token, group, checkpoint id ('' = unchanged), dead-letter cap, previous checkpoint,
#       acks (a JSON array of entry ids),
#       writes (a JSON array, one [{field: value}, [absent...]] pair per hash key in KEYS[5..]),
#       n dead letters, (n fields, fields...)...
# The bulk (acks and hash fields) travels as two JSON strings that cjson decodes in C: passing
# every field as its own argument made the client spend more time encoding arguments than the
# engine spent computing them.
FLUSH = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return redis.error_reply('FENCED lease lost')
end
if ARGV[3] ~= '' then
  local current = redis.call('HGET', KEYS[2], 'last_id') or ''
  if current == ARGV[3] then return -1 end
  if current ~= ARGV[5] then
    return redis.error_reply('FENCED checkpoint moved to ' .. current)
  end
end
local acks = cjson.decode(ARGV[6])
local writes = cjson.decode(ARGV[7])
local i = 8
local n_dead = tonumber(ARGV[i]); i = i + 1
for _ = 1, n_dead do
  local nf = tonumber(ARGV[i]); i = i + 1
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[4], '*', unpack(ARGV, i, i + nf - 1))
  i = i + nf
end
for k = 5, #KEYS do
  local w = writes[k - 4]
  local values = {}
  local nv = 0
  for f, v in pairs(w[1]) do
    values[nv + 1] = f
    values[nv + 2] = v
    nv = nv + 2
  end
  local j = 1
  while j <= nv do
    local stop = math.min(j + 3999, nv)
    redis.call('HSET', KEYS[k], unpack(values, j, stop))
    j = stop + 1
  end
  local absent = w[2]
  if #absent > 0 then
    redis.call('HDEL', KEYS[k], unpack(absent))
  end
end
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[2], 'last_id', ARGV[3])
end
local n_acks = #acks
local j = 1
while j <= n_acks do
  local stop = math.min(j + 3999, n_acks)
  redis.call('XACK', KEYS[3], ARGV[2], unpack(acks, j, stop))
  j = stop + 1
end
return n_acks
"""


@dataclass(slots=True)
class FlushBatch:
    """What one flush writes, acks and checkpoints; kept until Redis confirms it."""

    writes: list[HashWrite] = field(default_factory=list)
    acks: list[str] = field(default_factory=list)
    dead_letters: list[dict[str, str]] = field(default_factory=list)
    checkpoint: str = ""

    def __bool__(self) -> bool:
        return bool(self.writes or self.acks or self.dead_letters or self.checkpoint)


def flush_arguments(
    batch: FlushBatch,
    *,
    lease: str,
    checkpoint_key: str,
    stream: str,
    dead_stream: str,
    token: str,
    group: str,
    previous_checkpoint: str,
    dead_letter_cap: int = 100_000,
) -> tuple[list[str], list[str]]:
    """KEYS and ARGV for FLUSH, in the layout the script reads.

    The previous checkpoint makes a retried flush idempotent: when a reply is lost after the
    script ran, the retry finds its own checkpoint already stored and writes nothing twice.
    """
    script_keys = [lease, checkpoint_key, stream, dead_stream]
    script_keys.extend([w.key for w in batch.writes])
    bodies = [(w.fields, w.absent) for w in batch.writes]
    argv: list[str] = [
        token, group, batch.checkpoint, str(dead_letter_cap), previous_checkpoint,
        orjson.dumps(batch.acks).decode(), orjson.dumps(bodies).decode(),
        str(len(batch.dead_letters)),
    ]
    for letter in batch.dead_letters:
        argv.append(str(2 * len(letter)))
        for k, v in letter.items():
            argv += (k, v)
    return script_keys, argv


def dead_letter_fields(
    *,
    reason: str,
    error: str,
    source_id: str,
    source_stream: str,
    payload: Sequence[tuple[str, str]],
) -> dict[str, str]:
    """A dead-letter entry: the original fields beside why and where it came from."""
    letter = {
        "reason": reason,
        "error": error,
        "source_id": source_id,
        "source_stream": source_stream,
    }
    for k, v in payload:
        name = k
        while name in letter:  # a clash with our fields (or an earlier rename) moves aside
            name = f"orig_{name}"
        letter[name] = v
    return letter
