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

The new write path (store/resp.py, store/transaction.py, store/write_filter.py) is measured the
same way, with the whole fence (WATCH/GET/HGET round trip, then MULTI ... EXEC):

- `fenced_tx`: the hash writes encoded as RESP once, sent by the sync writer;
- `fenced_tx_async`: the same through redis.asyncio, as the service would send it;
- `fenced_tx_preencoded`, `fenced_tx_async_preencoded`: the plan built beforehand, as when the
  Rust core hands over the RESP bytes: the fence, the send and the replies only;
- `fenced_tx_filtered` / `script_json_filtered`: the same flush after the write filter, which
  has seen (and committed) every earlier drain of the session: a realistic next flush.

Redis's commandstats count a command run inside EVALSHA or EXEC twice (in itself and in its
caller), so `redis_ms_per_flush` (kept as it was) overstates both; `redis_cpu_ms` is the
server's own CPU (INFO cpu: parsing, networking and execution) and `worker_cpu_ms` the client's
CPU for the whole call (encode, send, read the replies), the figures to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import hiredis
import orjson
import redis
import redis.asyncio as aredis

from shared_core.volume_files.core_config import load_core_config
from shared_core.volume_files.engine_core import VolumeEngineCore
from shared_core.volume_files.settings import load_settings
from shared_core.volume_files.simulator import build_universe, simulate_ticks
from shared_core.volume_files.store import codec, keys, scripts
from shared_core.volume_files.store.codec import HashWrite
from shared_core.volume_files.store.resp import encode_hash_writes
from shared_core.volume_files.store.transaction import (
    TransactionPlan,
    plan_flush,
    write_flush,
    write_flush_sync,
)
from shared_core.volume_files.store.write_filter import WriteFilter
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
CHECKPOINT = "bench:checkpoint"
TOKEN = "bench-worker:1"


def one_drain(symbols: int, ticks: int, per_flush: int, seed: int) -> list[HashWrite]:
    """The writes of the last full drain of a simulated session (dual-write on)."""
    return session_drains(symbols, ticks, per_flush, seed)[0]


def session_drains(
    symbols: int, ticks: int, per_flush: int, seed: int
) -> tuple[list[HashWrite], WriteFilter]:
    """The last full drain's writes, and a write filter that committed every drain before it."""
    core = VolumeEngineCore(load_core_config(load_settings(env={})))
    universe = build_universe(symbols, session_date=SESSION_DATE, seed=seed)
    for symbol, fields in iter_history(universe, seed=seed):
        core.load(symbol, codec.build_history(fields, {}, {}, {}), SESSION_DATE)
    writes: list[HashWrite] = []
    seen = WriteFilter()
    generator = simulate_ticks(universe, session_date=SESSION_DATE, n_ticks=ticks, seed=seed)
    for batch in iter(lambda: list(itertools.islice(generator, per_flush)), []):
        for fields in batch:
            core.apply(parse_entry(fields))
        if len(batch) == per_flush:
            if writes:
                seen.commit(seen.filter(writes))
            writes = [w for snap in core.drain() for w in codec.snapshot_writes(snap,
                                                                                dual_write=True)]
    return writes, seen


def filter_size(f: WriteFilter) -> int:
    """Bytes the filter holds: keys, digest arrays, and each shared name tuple once."""
    total = sys.getsizeof(f._known)
    shared: set[int] = set()
    for key, (names, digests) in f._known.items():
        total += sys.getsizeof(key) + sys.getsizeof((names, digests)) + sys.getsizeof(digests)
        if id(names) not in shared:
            shared.add(id(names))
            total += sys.getsizeof(names) + sum(sys.getsizeof(n) for n in names)
    return total


def _timed(encode: Callable[[], Any], repeat: int) -> tuple[Any, float]:
    best = float("inf")
    result: Any = None
    for _ in range(repeat):
        started = time.perf_counter()
        result = encode()
        best = min(best, time.perf_counter() - started)
    return result, best


def _redis_usec(client: redis.Redis, send: Callable[[], Any], repeat: int) -> float:
    return _redis_cost(client, send, repeat)[0]


def _redis_cost(
    client: redis.Redis, send: Callable[[], Any], repeat: int
) -> tuple[float, float, float]:
    """Commandstats usec, the server's CPU seconds and this process's CPU seconds, in total."""
    client.config_resetstat()
    cpu = client.info("cpu")
    started = time.process_time()
    for _ in range(repeat):
        send()
    worker = time.process_time() - started
    after = client.info("cpu")
    server = sum(float(after[k]) - float(cpu[k]) for k in ("used_cpu_sys", "used_cpu_user"))
    stats: dict[str, Any] = client.info("commandstats")
    usec = float(sum(v["usec"] for k, v in stats.items()
                     if not k.endswith(("|resetstat", "_info"))))
    return usec, server, worker


def measure(
    writes: Sequence[HashWrite], repeat: int, seen: WriteFilter | None = None
) -> list[dict[str, Any]]:
    """One row per way of writing the drain; `seen` (the filter of the session so far) adds
    the filtered rows."""
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
                batch, lease=LEASE, checkpoint_key=CHECKPOINT, stream=stream,
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

        def multi() -> None:
            pipe = client.pipeline(transaction=True)
            for w in writes:
                pipe.hset(w.key, mapping=w.fields)  # type: ignore[arg-type]
                if w.absent:
                    pipe.hdel(w.key, *w.absent)
            pipe.execute()

        def script(ws: Sequence[HashWrite]) -> Any:
            k, a = scripts.flush_arguments(
                scripts.FlushBatch(writes=list(ws)), lease=LEASE, checkpoint_key=CHECKPOINT,
                stream=stream, dead_stream=keys.dead_letter_key("bench"), token=TOKEN,
                group="bench", previous_checkpoint="",
            )
            return client.evalsha(flush_sha, len(k), *k, *a)

        def tx_plan(ws: Sequence[HashWrite]) -> TransactionPlan:
            return plan_flush(
                scripts.FlushBatch(), encoded=encode_hash_writes(ws), lease=LEASE,
                checkpoint_key=CHECKPOINT, stream=stream,
                dead_stream=keys.dead_letter_key("bench"), token=TOKEN, group="bench",
                previous_checkpoint="",
            )

        loop = asyncio.new_event_loop()
        aclient = aredis.Redis(host="127.0.0.1", port=server.port, db=1,
                               password=server.password)

        ready = tx_plan(writes)

        def tx_async() -> Any:
            return loop.run_until_complete(write_flush(aclient, tx_plan(writes)))

        filtered = seen.filter(writes).writes if seen is not None else list(writes)
        variants: list[tuple[str, Sequence[HashWrite], Callable[[], Any], Callable[[], Any]]] = [
            ("script_json", writes, json_args, lambda: script(writes)),
            ("script_flat", writes, flat_args, lambda: client.evalsha(
                flat_sha, 1 + len(write_keys), LEASE, *write_keys, *flat_args())),
            ("multi_exec", writes, packed, multi),
            ("fenced_tx", writes, lambda: tx_plan(writes),
             lambda: write_flush_sync(client, tx_plan(writes))),
            ("fenced_tx_async", writes, lambda: tx_plan(writes), tx_async),
            # the bytes arrive encoded (the Rust core's output): only the fence and the I/O
            ("fenced_tx_preencoded", writes, lambda: None,
             lambda: write_flush_sync(client, ready)),
            ("fenced_tx_async_preencoded", writes, lambda: None,
             lambda: loop.run_until_complete(write_flush(aclient, ready))),
        ]
        if seen is not None:
            variants += [
                ("script_json_filtered", filtered, lambda: seen.filter(writes),
                 lambda: script(seen.filter(writes).writes)),
                ("fenced_tx_filtered", filtered,
                 lambda: tx_plan(seen.filter(writes).writes),
                 lambda: write_flush_sync(client, tx_plan(seen.filter(writes).writes))),
            ]
        try:
            for name, sent, encode, send in variants:
                _, encode_s = _timed(encode, repeat)
                send()  # warm: scripts cached, connections made, keys created
                usec, server_s, worker_s = _redis_cost(client, send, repeat)
                out.append({
                    "name": name, "hashes": len(sent), "symbols": changed,
                    "fields": sum(len(w.fields) + len(w.absent) for w in sent),
                    "redis_ms_per_flush": round(usec / repeat / 1000, 3),
                    "worker_ms_per_flush": round(encode_s * 1000, 3),
                    "redis_us_per_symbol": round(usec / repeat / changed, 2),
                    "worker_us_per_symbol": round(encode_s * 1e6 / changed, 2),
                    "redis_cpu_ms": round(server_s / repeat * 1000, 3),
                    "worker_cpu_ms": round(worker_s / repeat * 1000, 3),
                    "redis_cpu_us_per_symbol": round(server_s / repeat / changed * 1e6, 2),
                    "worker_cpu_us_per_symbol": round(worker_s / repeat / changed * 1e6, 2),
                })
        finally:
            loop.run_until_complete(aclient.aclose())
            loop.close()
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
    writes, seen = session_drains(args.symbols, args.ticks, args.per_flush, args.seed)
    if not writes:
        parser.error("no full drain: --ticks must be at least --per-flush")
    rows = measure(writes, args.repeat, seen)
    for row in rows:
        print(orjson.dumps(row).decode(), flush=True)
    print()
    print(f"{'encoding':<20} {'redis ms':>9} {'worker ms':>10} {'redis us/sym':>13} "
          f"{'worker us/sym':>14} {'redis cpu us/sym':>17} {'worker cpu us/sym':>18} "
          f"{'fields':>7}   ({rows[0]['symbols']} symbols, {rows[0]['hashes']} hashes)")
    for row in rows:
        print(f"{row['name']:<20} {row['redis_ms_per_flush']:>9} {row['worker_ms_per_flush']:>10}"
              f" {row['redis_us_per_symbol']:>13} {row['worker_us_per_symbol']:>14}"
              f" {row['redis_cpu_us_per_symbol']:>17} {row['worker_cpu_us_per_symbol']:>18}"
              f" {row['fields']:>7}")
    print(f"\nwrite filter after the session: {len(seen)} hash keys, "
          f"{filter_size(seen) / 2**20:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
