"""Deployment artifacts agree with the service and with each other.

The schema-level checks (hadolint, promtool, compose-spec, Kubernetes and KEDA schemas) run in
`.ci/check-deploy`; these tests check what no schema knows: every PromQL query names a metric
the service exports, the compose stack, the Kubernetes objects and the image fit together.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from shared_core.volume_files.http_server import HealthServer
from shared_core.volume_files.metrics import ServiceMetrics, metric_names
from tests.redis_server import RedisServer, free_port

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "volume-engine.json"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
PROMETHEUS = DEPLOY / "prometheus" / "prometheus.yml"
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
K8S = DEPLOY / "k8s"

# --------------------------------------------------------------------------------------------
# PromQL: which metric names does an expression use?

_PROMQL_KEYWORDS = frozenset({
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset",
    "and", "or", "unless", "atan2", "inf", "nan", "start", "end",
})
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_BRACES = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_IDENT = re.compile(r"(?<![\w:.$])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?")


def metrics_in(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers that are not functions, keywords,
    label names (inside {} or by/without/on/ignoring lists), durations or Grafana variables."""
    text = _STRING.sub('""', expr)
    text = _BRACES.sub("", text)
    text = _RANGE.sub("", text)
    text = _GROUPING.sub("", text)
    names: set[str] = set()
    for match in _IDENT.finditer(text):
        name, call = match.group(1), match.group(2)
        if call or name in _PROMQL_KEYWORDS:
            continue
        names.add(name)
    return names


def _exported_names() -> frozenset[str]:
    """`metric_names()`, plus the sample names of labelled families that have no child yet
    (a counter with labels shows no sample until its first label set is used)."""
    names = set(metric_names())
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"),
                "gauge": ("",), "summary": ("_count", "_sum", "")}
    for family in ServiceMetrics().registry.collect():
        for suffix in suffixes.get(family.type, ("",)):
            names.add(family.name + suffix)
    return frozenset(names)


EXPORTED = _exported_names()

# What the stack reads from redis_exporter (docker-compose.yml, job `redis`): Redis's own CPU.
# `test_redis_exporter_exports_what_the_stack_reads` checks them against the real exporter.
REDIS_EXPORTER = frozenset({
    "redis_cpu_user_main_thread_seconds_total", "redis_cpu_sys_main_thread_seconds_total",
})
SCRAPED = EXPORTED | REDIS_EXPORTER


def test_metrics_in_strips_functions_labels_and_ranges() -> None:
    expr = ('histogram_quantile(0.99, sum by (le, instance) (rate('
            'volume_engine_flush_duration_seconds_bucket{job="x", kind=~"a(b)|c"}[$__rate_interval]'
            '))) > on(instance) group_left(worker) up offset 5m or vector(0)')
    assert metrics_in(expr) == {"volume_engine_flush_duration_seconds_bucket", "up"}
    assert metrics_in("time() - max(foo_seconds)") == {"foo_seconds"}
    assert metrics_in("sum(rate(a_total[5m])) / sum(rate(b_total[5m]))") == {"a_total", "b_total"}


def test_exported_names_cover_the_documented_metrics() -> None:
    for name in ("volume_engine_ticks_total", "volume_engine_dead_letters_total",
                 "volume_engine_flush_errors_total", "volume_engine_flush_duration_seconds_bucket",
                 "volume_engine_partition_lag", "volume_engine_partition_owned",
                 "volume_engine_partitions_owned", "volume_engine_migration_unified_read_ratio",
                 "process_resident_memory_bytes"):
        assert name in EXPORTED, name
    assert "volume_engine_ticks" not in EXPORTED  # counters are only scraped with _total


# --------------------------------------------------------------------------------------------
# Grafana dashboard


def _load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _load_yaml_all(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    doc = _load_json(DASHBOARD)
    assert isinstance(doc, dict)
    return doc


def _panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def _dashboard_exprs(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    exprs = []
    for panel in _panels(dashboard):
        for target in panel.get("targets", []):
            exprs.append((panel["title"], target["expr"]))
    return exprs


def test_dashboard_structure(dashboard: dict[str, Any]) -> None:
    assert dashboard["uid"] == "volume-engine"
    assert dashboard["title"]
    assert isinstance(dashboard["schemaVersion"], int)
    assert dashboard["schemaVersion"] >= 30
    assert "id" not in dashboard or dashboard["id"] is None  # provisioned: Grafana assigns it
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    panels = list(_panels(dashboard))
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    known = {"row", "timeseries", "stat", "gauge", "bargauge", "table", "heatmap", "state-timeline"}
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        assert panel["type"] in known, panel["title"]
        assert panel["title"], panel
        pos = panel["gridPos"]
        assert min(pos["w"], pos["h"]) >= 1, panel["title"]
        assert min(pos["x"], pos["y"]) >= 0, panel["title"]
        assert pos["x"] + pos["w"] <= 24, f"{panel['title']}: wider than the 24-column grid"
        own = {(x, y) for x in range(pos["x"], pos["x"] + pos["w"])
               for y in range(pos["y"], pos["y"] + pos["h"])}
        assert not own & cells, f"{panel['title']}: overlaps another panel"
        cells |= own
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        targets = panel["targets"]
        assert targets, f"{panel['title']}: no query"
        ref_ids = [t["refId"] for t in targets]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
        for target in targets:
            assert target["expr"].strip(), panel["title"]


def test_dashboard_queries_use_only_exported_metrics(dashboard: dict[str, Any]) -> None:
    exprs = _dashboard_exprs(dashboard)
    assert len(exprs) >= 7
    for title, expr in exprs:
        used = metrics_in(expr)
        assert used, f"{title}: {expr!r} names no metric"
        unknown = used - SCRAPED
        assert not unknown, f"{title}: {expr!r} uses {sorted(unknown)}, not exported"
        if used & REDIS_EXPORTER:
            assert 'job="redis"' in expr, f"{title}: the exporter's job"
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]
            text = query["query"] if isinstance(query, dict) else query
            match = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", text)
            assert match, text
            assert metrics_in(match.group(1)) <= EXPORTED, text


def test_histogram_quantiles_aggregate_buckets_by_le(dashboard: dict[str, Any]) -> None:
    exprs = [e for _, e in _dashboard_exprs(dashboard)]
    exprs += [r["expr"] for g in _load_yaml(ALERTS)["groups"] for r in g["rules"]]
    quantiles = [e for e in exprs if "histogram_quantile" in e]
    assert quantiles
    for expr in quantiles:
        assert all(name.endswith("_bucket") for name in metrics_in(expr)), expr
        assert re.search(r"by \((?:[\w, ]*\b)?le\b", expr), expr


def test_dashboard_has_the_required_panels(dashboard: dict[str, Any]) -> None:
    by_metric: dict[str, list[str]] = {}
    for _title, expr in _dashboard_exprs(dashboard):
        for name in metrics_in(expr):
            by_metric.setdefault(name, []).append(expr)

    def queried(name: str, needle: str = "") -> bool:
        return any(needle in e for e in by_metric.get(name, []))

    assert queried("volume_engine_ticks_total", "rate("), "throughput"
    assert queried("volume_engine_partition_lag", "by (partition)"), "lag per partition"
    flush = by_metric.get("volume_engine_flush_duration_seconds_bucket", [])
    assert {q for q in ("0.5", "0.95", "0.99") if any(f"({q}," in e for e in flush)} == {
        "0.5", "0.95", "0.99"}, "flush latency percentiles"
    for part in ("apply_lag", "drain_duration"):  # the tick's path after Redis received it
        assert queried(f"volume_engine_{part}_seconds_bucket", "(0.99,"), part
    assert queried("volume_engine_dead_letters_total", "by (reason)"), "dead letters by reason"
    assert queried("volume_engine_partitions_owned", "instance"), "partitions per worker"
    assert queried("process_resident_memory_bytes"), "memory"
    assert queried("volume_engine_migration_unified_read_ratio"), "migration progress"
    assert all(queried(name, "rate(") for name in REDIS_EXPORTER), "Redis's main thread CPU"


# --------------------------------------------------------------------------------------------
# Prometheus: alert rules and scrape config


def test_alert_rules_cover_the_failure_modes() -> None:
    groups = _load_yaml(ALERTS)["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names))
    for rule in rules:
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert rule["annotations"]["description"], rule["alert"]
        used = metrics_in(rule["expr"])
        assert used, rule["alert"]
        assert used <= SCRAPED, f"{rule['alert']}: {sorted(used - SCRAPED)} not exported"
    by_metric = {rule["alert"]: metrics_in(rule["expr"]) for rule in rules}
    assert by_metric["VolumeEngineConsumerLagGrowing"] == {"volume_engine_partition_lag"}
    assert "deriv(" in next(r["expr"] for r in rules
                            if r["alert"] == "VolumeEngineConsumerLagGrowing")
    assert by_metric["VolumeEngineDeadLetters"] == {"volume_engine_dead_letters_total"}
    assert by_metric["VolumeEngineFlushErrors"] == {"volume_engine_flush_errors_total"}
    assert by_metric["VolumeEnginePartitionWithoutOwner"] == {"volume_engine_partition_owned"}
    assert by_metric["RedisMainThreadBusy"] == REDIS_EXPORTER


def test_prometheus_scrapes_the_compose_redis_exporter() -> None:
    config = _load_yaml(PROMETHEUS)
    job = next(j for j in config["scrape_configs"] if j["job_name"] == "redis")
    targets = {t for sc in job["static_configs"] for t in sc["targets"]}
    exporter = _load_yaml(COMPOSE)["services"]["redis-exporter"]
    assert targets == {"redis-exporter:9121"}  # the exporter's default port
    assert exporter["environment"]["REDIS_ADDR"] == "redis://redis:6379"
    assert exporter["depends_on"]["redis"]["condition"] == "service_healthy"


def test_redis_exporter_exports_what_the_stack_reads() -> None:
    """The real exporter (Debian's prometheus-redis-exporter, which `.ci/check-deploy`
    unpacks and names in REDIS_EXPORTER_BIN) against a private redis-server: every name the
    dashboard and the alerts read from it is among its samples."""
    binary = os.environ.get("REDIS_EXPORTER_BIN")
    if not binary:
        pytest.skip("REDIS_EXPORTER_BIN not set (.ci/check-deploy sets it)")
    port = free_port()
    with RedisServer() as server:
        exporter = subprocess.Popen(
            [binary, "-redis.addr", f"redis://127.0.0.1:{server.port}",
             "-web.listen-address", f"127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics",
                                                timeout=2) as reply:
                        text = reply.read().decode()
                    if "redis_up 1" in text:
                        break
                except OSError:
                    pass
                assert time.monotonic() < deadline, "redis_exporter did not come up"
                time.sleep(0.1)
        finally:
            exporter.terminate()
            exporter.wait(timeout=10)
    samples = {line.split("{")[0].split(" ")[0] for line in text.splitlines()
               if line and not line.startswith("#")}
    assert samples >= REDIS_EXPORTER, sorted(REDIS_EXPORTER - samples)


def test_prometheus_scrapes_the_compose_engines() -> None:
    config = _load_yaml(PROMETHEUS)
    for rule_file in config["rule_files"]:
        assert (PROMETHEUS.parent / rule_file).is_file(), rule_file
    job = next(j for j in config["scrape_configs"] if j["job_name"] == "volume-engine")
    targets = {t for sc in job["static_configs"] for t in sc["targets"]}
    services = _load_yaml(COMPOSE)["services"]
    engines = {name for name, svc in services.items()
               if svc.get("environment", {}).get("VOLUME_WORKER_ID")}
    assert targets == {f"{name}:9108" for name in engines}


# --------------------------------------------------------------------------------------------
# docker-compose.yml and Grafana provisioning


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    doc = _load_yaml(COMPOSE)
    assert isinstance(doc, dict)
    return doc


def test_compose_has_the_stack(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"redis", "engine-1", "engine-2", "producer", "prometheus", "grafana"} <= set(services)
    redis_cmd = services["redis"]["command"]
    assert redis_cmd[redis_cmd.index("--appendonly") + 1] == "yes", "Redis persistence"
    assert any(v.endswith(":/data") for v in services["redis"]["volumes"])
    assert "redis-data" in compose["volumes"]
    worker_ids = set()
    for name in ("engine-1", "engine-2"):
        svc = services[name]
        env = svc["environment"]
        assert svc["build"]["context"] == "."
        assert env["VOLUME_REDIS_URL"] == "redis://redis:6379/1"
        assert env["VOLUME_METRICS_HOST"] == "0.0.0.0"
        assert env["VOLUME_METRICS_PORT"] == "9108"
        assert svc["depends_on"]["redis"]["condition"] == "service_healthy"
        assert "command" not in svc  # the image's entry point: volume-engine run
        worker_ids.add(env["VOLUME_WORKER_ID"])
    assert len(worker_ids) == 2
    assert services["producer"]["command"] == [
        "publish", "--simulate", "--symbols", "500", "--ticks", "200000", "--rate", "2000"]
    assert services["producer"]["environment"]["VOLUME_PARTITIONS"] == "8"


def test_compose_mounts_exist(compose: dict[str, Any]) -> None:
    mounts: dict[str, str] = {}
    for svc in compose["services"].values():
        for volume in svc.get("volumes", []):
            source, target = volume.split(":")[:2]
            if source.startswith("."):
                assert (ROOT / source).exists(), source
                mounts[target] = source
            else:
                assert source in compose["volumes"], source
    assert mounts["/etc/prometheus"] == "./deploy/prometheus"
    assert mounts["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"
    provider = _load_yaml(DEPLOY / "grafana/provisioning/dashboards/dashboards.yml")["providers"][0]
    assert mounts[provider["options"]["path"]] == "./deploy/grafana/dashboards"
    source = _load_yaml(DEPLOY / "grafana/provisioning/datasources/prometheus.yml")
    datasource = source["datasources"][0]
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"
    assert datasource["uid"] == "prometheus"


# --------------------------------------------------------------------------------------------
# Kubernetes manifests


@pytest.fixture(scope="module")
def k8s() -> dict[str, dict[str, Any]]:
    objects: dict[str, dict[str, Any]] = {}
    files = sorted(K8S.glob("*.yaml"))
    assert files
    for path in files:
        for doc in _load_yaml_all(path):
            assert {"apiVersion", "kind", "metadata"} <= set(doc), path.name
            key = f"{doc['kind']}/{doc['metadata']['name']}"
            assert key not in objects, key
            objects[key] = doc
    return objects


def test_k8s_deployment(k8s: dict[str, dict[str, Any]]) -> None:
    deployment = k8s["Deployment/volume-engine"]
    spec = deployment["spec"]
    assert spec["replicas"] >= 2
    pod = spec["template"]["spec"]
    assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    (container,) = pod["containers"]
    assert container["args"] == ["run"]
    assert container["ports"] == [{"name": "metrics", "containerPort": 9108, "protocol": "TCP"}]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    for kind in ("requests", "limits"):
        assert set(container["resources"][kind]) == {"cpu", "memory"}, kind
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    env = {e["name"]: e for e in container["env"]}
    assert env["VOLUME_WORKER_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    ref = env["VOLUME_REDIS_URL"]["valueFrom"]["secretKeyRef"]
    secret = k8s[f"Secret/{ref['name']}"]
    assert ref["key"] in secret["stringData"]
    (config_ref,) = container["envFrom"]
    config = k8s[f"ConfigMap/{config_ref['configMapRef']['name']}"]["data"]
    assert config["VOLUME_METRICS_HOST"] == "0.0.0.0"
    assert config["VOLUME_METRICS_PORT"] == "9108"
    assert "VOLUME_REDIS_URL" not in config  # credentials live in the Secret only


def test_k8s_metrics_service_selects_the_workers(k8s: dict[str, dict[str, Any]]) -> None:
    service = k8s["Service/volume-engine-metrics"]
    labels = k8s["Deployment/volume-engine"]["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"] == [
        {"name": "metrics", "port": 9108, "targetPort": "metrics", "protocol": "TCP"}]


def test_k8s_keda_scales_on_every_partition_lag(k8s: dict[str, dict[str, Any]]) -> None:
    scaled = k8s["ScaledObject/volume-engine"]["spec"]
    config = k8s["ConfigMap/volume-engine-config"]["data"]
    partitions = int(config["VOLUME_PARTITIONS"])
    assert scaled["scaleTargetRef"]["name"] == "volume-engine"
    assert scaled["maxReplicaCount"] == partitions
    assert 1 <= scaled["minReplicaCount"] <= scaled["maxReplicaCount"]
    triggers = scaled["triggers"]
    streams = [t["metadata"]["stream"] for t in triggers]
    assert streams == [f"{config['VOLUME_STREAM']}:{n}" for n in range(partitions)]
    for trigger in triggers:
        meta = trigger["metadata"]
        assert trigger["type"] == "redis-streams"
        assert meta["consumerGroup"] == config["VOLUME_GROUP"]
        assert int(meta["lagCount"]) > 0
        assert meta["addressFromEnv"] in config
        assert meta["databaseIndex"] == "1"
        auth = k8s[f"TriggerAuthentication/{trigger['authenticationRef']['name']}"]
        for ref in auth["spec"]["secretTargetRef"]:
            assert ref["key"] in k8s[f"Secret/{ref['name']}"]["stringData"]
    formula = scaled["advanced"]["scalingModifiers"]["formula"]
    assert set(re.findall(r"\w+", formula)) == {t["name"] for t in triggers}


# --------------------------------------------------------------------------------------------
# Dockerfile


def _instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    lines: list[tuple[str, str]] = []
    buffer = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not buffer and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        buffer += line
        instruction, _, args = buffer.partition(" ")
        lines.append((instruction.upper(), args.strip()))
        buffer = ""
    return lines


def test_dockerfile_runtime_stage() -> None:
    instructions = _instructions(DOCKERFILE)
    starts = [i for i, (ins, _) in enumerate(instructions) if ins == "FROM"]
    assert len(starts) >= 2, "multi-stage build"
    final = instructions[starts[-1]:]
    assert "slim" in instructions[0][1] or any("slim" in a for ins, a in instructions
                                               if ins == "ARG"), "slim base"
    users = [args for ins, args in final if ins == "USER"]
    assert users, "the runtime stage sets USER"
    assert users[-1].split(":")[0] not in {"root", "0"}
    healthchecks = [args for ins, args in final if ins == "HEALTHCHECK"]
    assert len(healthchecks) == 1
    assert "/healthz" in healthchecks[0]
    assert "urllib" in healthchecks[0]
    assert "curl" not in healthchecks[0]
    assert "wget" not in healthchecks[0]
    runs = " ".join(args for ins, args in final if ins == "RUN")
    for tool in ("gcc", "build-essential", "apt-get install", "pip install"):
        assert tool not in runs, f"runtime stage must not install {tool}"
    entry = [json.loads(args) for ins, args in final if ins == "ENTRYPOINT"]
    cmd = [json.loads(args) for ins, args in final if ins == "CMD"]
    assert entry[-1] + cmd[-1] == ["volume-engine", "run"]
    env = " ".join(args for ins, args in final if ins == "ENV")
    assert "VOLUME_CONFIG_DIR=/app/config" in env
    assert "VOLUME_METRICS_HOST=0.0.0.0" in env
    assert "VOLUME_METRICS_PORT=9108" in env
    copies = [shlex.split(args) for ins, args in final if ins == "COPY"]
    assert ["config/", "/app/config/"] in copies
    assert ("EXPOSE", "9108") in final


def test_dockerfile_build_stage_compiles_the_native_core() -> None:
    """The Rust core is an optional extension: a build stage without a toolchain would ship an
    image that quietly runs the Python core, so the stage has cargo (and gcc, rustc's linker)
    and checks the import."""
    instructions = _instructions(DOCKERFILE)
    starts = [i for i, (ins, _) in enumerate(instructions) if ins == "FROM"]
    build = instructions[starts[0]:starts[-1]]
    runs = [args for ins, args in build if ins == "RUN"]
    assert any("apt-get install" in run and "gcc" in run for run in runs)
    install = next(i for i, run in enumerate(runs) if "pip" in run and "install" in run)
    assert "shared_core.volume_files._native" in runs[install]
    copied = {src for ins, args in build if ins == "COPY" for src in shlex.split(args)[:-1]}
    assert {"setup.py", "service/", "native/"} <= copied
    env = " ".join(args for ins, args in build if ins == "ENV")
    assert "/usr/local/cargo/bin" in env


def test_dockerignore_keeps_the_build_inputs() -> None:
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    assert patterns[0] == "*"
    assert {"!pyproject.toml", "!setup.py", "!README.md", "!service/", "!config/"} <= set(patterns)
    assert "**/*.so" in patterns  # a kernel built on the host must not replace the image's
    copied = [shlex.split(args)[:-1] for ins, args in _instructions(DOCKERFILE)
              if ins == "COPY" and not args.startswith("--from")]
    for sources in copied:
        for source in sources:
            assert f"!{source}" in patterns, f"{source} is copied but excluded from the context"


def _healthcheck_command() -> list[str]:
    (args,) = [a for ins, a in _instructions(DOCKERFILE) if ins == "HEALTHCHECK"]
    _, _, exec_form = args.partition(" CMD ")
    command = json.loads(exec_form)
    assert isinstance(command, list)
    return [str(part) for part in command]


@pytest.mark.parametrize(("healthy", "status"), [(True, 0), (False, 1)])
async def test_dockerfile_healthcheck_probes_the_service(healthy: bool, status: int) -> None:
    """The image's HEALTHCHECK, run as written, against the service's own HTTP endpoint."""
    server = HealthServer(CollectorRegistry(), host="127.0.0.1", port=0,
                          healthy=lambda: healthy, ready=lambda: True)
    port = await server.start()
    try:
        command = _healthcheck_command()
        assert command[0] == "python"
        proc = await asyncio.create_subprocess_exec(
            sys.executable, *command[1:],
            env={**os.environ, "VOLUME_METRICS_PORT": str(port)},
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        assert await asyncio.wait_for(proc.wait(), timeout=20) == status
    finally:
        await server.close()
