"""The monitoring component (Grafana dashboard, PrometheusRule, vLLM and Ray scraping) renders and
validates offline: every PromQL expression parses with a real PromQL parser, names only metrics the
services define (or vLLM's, listed below, or the Ray jobs' LLM metrics as Ray exports them), the
dashboard has what Grafana needs, the rules have the PrometheusRule shape, and every Ray node exports
on the port its PodMonitor scrapes."""

from __future__ import annotations

import functools
import json
import re
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import promql_parser
import pytest
import yaml
from prometheus_client import REGISTRY

# Importing the composition roots and the service entrypoints registers every metric the services define.
import services.context.bootstrap
import services.orchestrator.bootstrap
import services.orchestrator.entrypoints.service  # noqa: F401
from tests.unit.test_deploy_manifests import K8S, K8S_VERSIONS, Doc, find, one, render, schema_errors

COMPONENT = K8S / "components" / "monitoring"
DASHBOARD = COMPONENT / "conclave-dashboard.json"
RULES = COMPONENT / "prometheusrule.yaml"
# Metrics of other programs the dashboard reads, as vLLM (v1 engine) exports them.
EXTERNAL = frozenset({
    "vllm:prompt_tokens_total",
    "vllm:generation_tokens_total",
    "vllm:prefix_cache_hits_total",
    "vllm:prefix_cache_queries_total",
})
# Grafana fills these in before Prometheus sees the query.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",),
            "summary": ("_count", "_sum", "")}
REQUIRED_PANELS = {
    "Plans in", "Deliberations by state", "Queue depth", "Time to decision", "LLM tokens",
    "Prefix-cache hit rate", "Dead letters",
}
REQUIRED_ALERTS = {
    "ConclaveDeadLettersGrowing", "ConclaveDeliberationsFailing", "ConclaveQueueNotDraining",
    "ConclaveModelServerNotReady",
}


@functools.cache
def defined_metrics() -> frozenset[str]:
    """Every series name the services can export, from the families registered at import, and the
    LLM client's as a Ray job exports them through Ray (the same names, prefixed `ray_`)."""
    names = set()
    for family in REGISTRY.collect():
        names |= {family.name + s for s in SUFFIXES.get(family.type, ("",))}
    return frozenset(names | {"ray_" + n for n in names if n.startswith("conclave_llm_")})


def selectors(expr: str) -> list[str]:
    """The metric names an expression reads; raises ValueError when it does not parse."""
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    found: list[str] = []

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            by_matcher = [m.value for m in node.matchers.matchers if m.name == "__name__"]
            found.extend([node.name] if node.name else by_matcher)

    promql_parser.walk(promql_parser.parse(expr), visit)
    return found


def dashboard() -> Doc:
    return dict(json.loads(DASHBOARD.read_text()))


def rules() -> Doc:
    return dict(yaml.safe_load(RULES.read_text()))


def expressions() -> list[tuple[str, str]]:
    exprs = [(f"panel {p['title']!r} {t['refId']}", t["expr"]) for p in dashboard()["panels"] for t in p["targets"]]
    for group in rules()["spec"]["groups"]:
        exprs += [(f"rule {r.get('alert') or r.get('record')}", r["expr"]) for r in group["rules"]]
    return exprs


@pytest.mark.parametrize(("where", "expr"), expressions(), ids=[w for w, _ in expressions()])
def test_every_expression_parses_and_reads_only_known_metrics(where: str, expr: str) -> None:
    names = selectors(expr)
    assert names, f"{where}: reads no metric"
    unknown = sorted(set(names) - defined_metrics() - EXTERNAL)
    assert unknown == [], f"{where}: no service defines {unknown}"


def test_the_checks_reject_a_broken_expression_and_an_unknown_metric() -> None:
    with pytest.raises(ValueError):
        selectors("sum(rate(conclave_dead_letters_total[5m])")
    assert "conclave_dead_leters_total" not in defined_metrics()
    assert "conclave_dead_letters_total" in defined_metrics()
    assert "grpc_server_handling_seconds_bucket" in defined_metrics()
    assert "ray_conclave_llm_tokens_total" in defined_metrics()
    assert "ray_conclave_dead_letters_total" not in defined_metrics(), "only the job's LLM metrics go through Ray"


def test_the_dashboard_has_what_grafana_needs() -> None:
    board = dashboard()
    assert re.fullmatch(r"[a-zA-Z0-9_-]{1,40}", board["uid"])
    assert board["title"] and isinstance(board["schemaVersion"], int)
    (source,) = [v for v in board["templating"]["list"] if v["type"] == "datasource"]
    assert source["query"] == "prometheus"
    panels = board["panels"]
    assert len({p["id"] for p in panels}) == len(panels), "panel ids must be unique"
    for p in panels:
        assert p["type"] and p["title"], p
        assert {"h", "w", "x", "y"} <= set(p["gridPos"]) and p["gridPos"]["x"] + p["gridPos"]["w"] <= 24
        assert p["datasource"]["uid"] == "${" + source["name"] + "}"
        assert p["targets"], f"{p['title']}: no query"
        assert len({t["refId"] for t in p["targets"]}) == len(p["targets"])
    assert REQUIRED_PANELS <= {p["title"] for p in panels}


RULE_SCHEMA: Doc = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "PrometheusRule"},
        "metadata": {"type": "object", "required": ["name"]},
        "spec": {
            "type": "object", "additionalProperties": False, "required": ["groups"],
            "properties": {"groups": {"type": "array", "minItems": 1, "items": {
                "type": "object", "additionalProperties": False, "required": ["name", "rules"],
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "interval": {"type": "string"},
                    "rules": {"type": "array", "minItems": 1, "items": {
                        "type": "object", "additionalProperties": False, "required": ["expr"],
                        "oneOf": [{"required": ["alert"]}, {"required": ["record"]}],
                        "properties": {
                            "alert": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
                            "record": {"type": "string"},
                            "expr": {"type": "string", "minLength": 1},
                            "for": {"type": "string"},
                            "keep_firing_for": {"type": "string"},
                            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                            "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
                        },
                    }},
                },
            }}},
        },
    },
}


def rule_errors(doc: Doc) -> list[str]:
    errors = [f"{'.'.join(map(str, e.path))}: {e.message}"
              for e in jsonschema.Draft202012Validator(RULE_SCHEMA).iter_errors(doc)]
    for group in doc.get("spec", {}).get("groups", []):
        for rule in group.get("rules", []):
            for field in ("for", "keep_firing_for"):
                if field in rule:
                    try:
                        promql_parser.parse_duration(rule[field])
                    except ValueError as e:
                        errors.append(f"{rule.get('alert')}: {field}: {e}")
    return errors


def test_the_rules_have_the_prometheusrule_shape_and_the_alerts_asked_for() -> None:
    doc = rules()
    assert rule_errors(doc) == []
    alerts = [r for g in doc["spec"]["groups"] for r in g["rules"] if "alert" in r]
    assert REQUIRED_ALERTS <= {a["alert"] for a in alerts}
    for alert in alerts:
        assert alert["labels"]["severity"] in {"warning", "critical"}, alert["alert"]
        assert alert["annotations"]["summary"] and alert["annotations"]["description"], alert["alert"]
    broken = rules()
    broken["spec"]["groups"][0]["rules"][0]["fore"] = "5m"
    broken["spec"]["groups"][0]["rules"][1]["for"] = "five minutes"
    assert len(rule_errors(broken)) == 2, "unknown fields and bad durations must be noticed"


def with_component(tmp_path: Path, overlay: str) -> list[Doc]:
    """The overlay with both monitoring components added, as the README tells users to."""
    shutil.copytree(K8S, tmp_path / "k8s")
    path = tmp_path / "k8s" / "overlays" / overlay
    kustomization = yaml.safe_load((path / "kustomization.yaml").read_text())
    kustomization["components"] = [
        *kustomization.get("components", []), "../../components/servicemonitor", "../../components/monitoring",
    ]
    (path / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    return render(path)


@pytest.mark.parametrize("overlay", ["dev", "gpu"])
def test_the_component_renders_into_an_overlay_and_validates(tmp_path: Path, overlay: str) -> None:
    docs = with_component(tmp_path, overlay)
    core = [d for d in docs if not d["apiVersion"].startswith("monitoring.coreos.com/")]
    assert schema_errors(core, K8S_VERSIONS[0]) == []
    (rule,) = find(docs, "PrometheusRule")
    assert rule["metadata"]["namespace"] == "conclave" and rule_errors(rule) == []
    board = one(docs, "ConfigMap", "conclave-dashboard")
    assert board["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(board["data"]["conclave-dashboard.json"]) == dashboard()
    monitors = {m["metadata"]["name"]: m for m in find(docs, "ServiceMonitor")}
    assert set(monitors) == {"conclave", "conclave-model-server"}
    vllm = [s for s in find(docs, "Service") if s["metadata"]["labels"].get("app.kubernetes.io/name") == "vllm"]
    assert len(vllm) == (overlay == "gpu")
    for service in vllm:
        assert monitors["conclave-model-server"]["spec"]["endpoints"][0]["port"] in {
            p["name"] for p in service["spec"]["ports"]
        }


@pytest.mark.parametrize("overlay", ["dev", "gpu"])
def test_every_ray_node_exports_on_the_port_its_podmonitor_scrapes(tmp_path: Path, overlay: str) -> None:
    docs = with_component(tmp_path, overlay)
    (monitor,) = find(docs, "PodMonitor")
    selector = monitor["spec"]["selector"]["matchLabels"]
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    cluster = one(docs, "RayCluster", "conclave-ray")
    groups = [cluster["spec"]["headGroupSpec"], *cluster["spec"]["workerGroupSpecs"]]
    for group in groups:
        pod = group["template"]
        assert selector.items() <= pod["metadata"]["labels"].items(), "the job drivers' nodes are selected"
        ports = {p["name"]: p["containerPort"] for p in pod["spec"]["containers"][0].get("ports", [])}
        assert group["rayStartParams"]["metrics-export-port"] == str(ports[endpoint["port"]])
    (policy,) = [p for p in find(docs, "NetworkPolicy") if p["metadata"]["name"] == "ray-metrics-ingress"]
    assert policy["spec"]["podSelector"]["matchLabels"] == selector
    assert [p["port"] for p in policy["spec"]["ingress"][0]["ports"]] == [endpoint["port"]]
