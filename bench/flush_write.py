"""What one flush's writes cost Redis and the worker, by how they are encoded.

`python -m bench.flush_write [--symbols N] [--ticks M] [--per-flush K]` simulates a session,
drains the engine core every K ticks as a flush does, keeps one drain's hash writes, and sends
them to a private redis-server three ways, reporting per changed symbol:

- `script_json`: the service's fenced FLUSH script with its JSON bodies (what `run` does);
- `script_flat`: the same script shape, each hash's fields as a flat JSON array, so Lua unpacks
  them straight into HSET instead of rebuilding an argument table from an object;
- `multi_exec`: native HSET/HDEL commands in MULTI/EXEC (fencing would need WATCH on the lease).

Redis time is the commandstats total (inner commands included) per flush; worker time is the
encoding (the script's arguments, or every command packed with hiredis as a client would) per
flush. It tells where a faster write path has to save, not a figure of the service.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import hiredis
import orjson
import redis

from shared_core.volume_files.engine_core import VolumeEngineCore
from shared_core.volume_files.settings import load_core_config, load_settings
from shared_core.volume_files.simulator import build_universe, simulate_ticks
from shared_core.volume_files.store import codec, keys, scripts
from shared_core.volume_files.store.codec import HashWrite
from shared_core.volume_files.ticks import parse_entry

from .dev import RedisServer
from .workloads import SESSION_DATE, iter_history

FLAT_FLUSH = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return redis.error_reply('FENCED lease lost')
end
local writes = cjson.decode(ARGV[2])
for k = 2, #KEYS do
  local w = writes[k - 1]
  redis.call('HSET', KEYS[k], unpack(w[1]))
  if #w[2] > 0 then redis.call('HDEL', KEYS[k], unpack(w[2])) end
end
return #KEYS - 1
"""

LEASE = "bench:lease"
TOKEN = "bench-worker:1"


def one_drain(symbols: int, ticks: int, per_flush: int, seed: int) -> list[HashWrite]:
    """The writes of the last full drain of a simulated session (dual-write on)."""
    core = VolumeEngineCore(load_core_config(load_settings(env={})))
    universe = build_universe(symbols, session_date=SESSION_DATE, seed=seed)
    for symbol, fields in iter_history(universe, seed=seed):
        core.load(symbol, codec.build_history(fields, {}, {}, {}), SESSION_DATE)
    writes: list[HashWrite] = []
    generator = simulate_ticks(universe, session_date=SESSION_DATE, n_ticks=ticks, seed=seed)
    for batch in iter(lambda: list(itertools.islice(generator, per_flush)), []):
        for fields in batch:
            core.apply(parse_entry(fields))
        if len(batch) == per_flush:
            writes = [w for snap in core.drain() for w in codec.snapshot_writes(snap,
                                                                                dual_write=True)]
    return writes


def _timed(encode: Callable[[], Any], repeat: int) -> tuple[Any, float]:
    best = float("inf")
    result: Any = None
    for _ in range(repeat):
        started = time.perf_counter()
        result = encode()
        best = min(best, time.perf_counter() - started)
    return result, best


def _redis_usec(client: redis.Redis, send: Callable[[], Any], repeat: int) -> float:
    client.config_resetstat()
    for _ in range(repeat):
        send()
    stats: dict[str, Any] = client.info("commandstats")
    return float(sum(v["usec"] for k, v in stats.items()
                     if not k.endswith(("|resetstat", "_info"))))


def measure(writes: Sequence[HashWrite], repeat: int) -> list[dict[str, Any]]:
    changed = len({w.key for w in writes if w.family == keys.FAMILY_UNIFIED})
    out: list[dict[str, Any]] = []
    with RedisServer() as server:
        client = server.client()
        client.set(LEASE, TOKEN)
        stream = keys.stream_key("bench", 0)
        flush_sha = client.script_load(scripts.FLUSH)
        flat_sha = client.script_load(FLAT_FLUSH)
        write_keys = [w.key for w in writes]

        def json_args() -> tuple[list[str], list[str]]:
            batch = scripts.FlushBatch(writes=list(writes))
            return scripts.flush_arguments(
                batch, lease=LEASE, checkpoint_key="bench:checkpoint", stream=stream,
                dead_stream=keys.dead_letter_key("bench"), token=TOKEN, group="bench",
                previous_checkpoint="",
            )

        def flat_args() -> list[str]:
            bodies = [(list(itertools.chain.from_iterable(w.fields.items())), w.absent)
                      for w in writes]
            return [TOKEN, orjson.dumps(bodies).decode()]

        # hiredis's stub types the argument as a 1-tuple; any tuple of str is what it packs.
        pack: Callable[[tuple[str, ...]], bytes] = hiredis.pack_command  # type: ignore[assignment]

        def packed() -> list[bytes]:
            commands = [pack(("HSET", w.key, *itertools.chain.from_iterable(w.fields.items())))
                        for w in writes]
            commands += [pack(("HDEL", w.key, *w.absent)) for w in writes if w.absent]
            return commands

        (j_keys, j_argv), j_py = _timed(json_args, repeat)
        j_redis = _redis_usec(client, lambda: client.evalsha(
            flush_sha, len(j_keys), *j_keys, *j_argv), repeat)
        f_argv, f_py = _timed(flat_args, repeat)
        f_redis = _redis_usec(client, lambda: client.evalsha(
            flat_sha, 1 + len(write_keys), LEASE, *write_keys, *f_argv), repeat)
        _, m_py = _timed(packed, repeat)

        def multi() -> None:
            pipe = client.pipeline(transaction=True)
            for w in writes:
                pipe.hset(w.key, mapping=w.fields)  # type: ignore[arg-type]
                if w.absent:
                    pipe.hdel(w.key, *w.absent)
            pipe.execute()

        m_redis = _redis_usec(client, multi, repeat)
        for name, py_s, redis_us in (("script_json", j_py, j_redis),
                                     ("script_flat", f_py, f_redis),
                                     ("multi_exec", m_py, m_redis)):
            out.append({
                "name": name, "hashes": len(writes), "symbols": changed,
                "redis_ms_per_flush": round(redis_us / repeat / 1000, 3),
                "worker_ms_per_flush": round(py_s * 1000, 3),
                "redis_us_per_symbol": round(redis_us / repeat / changed, 2),
                "worker_us_per_symbol": round(py_s * 1e6 / changed, 2),
            })
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.flush_write", description=__doc__)
    parser.add_argument("--symbols", type=int, default=20_000)
    parser.add_argument("--ticks", type=int, default=200_000)
    parser.add_argument("--per-flush", type=int, default=2_500,
                        help="ticks between drains (a 250 ms flush at 10,000 ticks/s)")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    writes = one_drain(args.symbols, args.ticks, args.per_flush, args.seed)
    if not writes:
        parser.error("no full drain: --ticks must be at least --per-flush")
    rows = measure(writes, args.repeat)
    for row in rows:
        print(orjson.dumps(row).decode(), flush=True)
    print()
    print(f"{'encoding':<12} {'redis ms':>9} {'worker ms':>10} {'redis us/sym':>13} "
          f"{'worker us/sym':>14}   ({rows[0]['symbols']} symbols, {rows[0]['hashes']} hashes)")
    for row in rows:
        print(f"{row['name']:<12} {row['redis_ms_per_flush']:>9} {row['worker_ms_per_flush']:>10}"
              f" {row['redis_us_per_symbol']:>13} {row['worker_us_per_symbol']:>14}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
