"""Grafana provisioning and the cbrtl overview dashboard (docker/grafana/), checked offline.

Nothing here talks to Grafana or Prometheus: the files are read and the PromQL is given
cheap textual checks (names the app really exports, no `sum` over values every web
replica reports alike, balanced brackets).
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "docker" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "cbrtl.json"
DATASOURCES = GRAFANA / "provisioning" / "datasources" / "prometheus.yaml"
PROVIDERS = GRAFANA / "provisioning" / "dashboards" / "cbrtl.yaml"
METRICS_PY = ROOT / "web" / "metrics.py"

GRID_COLUMNS = 24
DASHBOARDS_PATH = "/var/lib/grafana/dashboards"

# Read from the database, the broker or Redis at scrape time: every web replica answers
# the same values, so summing over replicas multiplies them by the replica count.
REPLICA_IDENTICAL = frozenset(
    {
        "cbrtl_queue_depth",
        "cbrtl_outbox_lag_seconds",
        "cbrtl_outbox_unpublished",
        "cbrtl_jobs",
        "cbrtl_jobs_dead",
        "cbrtl_job_duration_seconds",
        "cbrtl_beat_last_tick_seconds",
    }
)

_METRIC = re.compile(r"(?<![\w:.])cbrtl_[A-Za-z0-9_]+")
_HISTOGRAM_SUFFIX = re.compile(r"_(bucket|count|sum)$")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
# What directly before a selector's enclosing "(" makes it a sum: `sum(` or `sum by (..) (`.
_SUM_BEFORE = re.compile(r"\bsum\s*(?:(?:by|without)\s*\([^()]*\)\s*)?$")
_PAIRS = {")": "(", "]": "[", "}": "{"}


# --- helpers ------------------------------------------------------------------------


def strip_strings(expr: str) -> str:
    """The expression with its string literals (label values, regexes) emptied."""
    return _STRING.sub('""', expr)


def base_name(name: str) -> str:
    return _HISTOGRAM_SUFFIX.sub("", name)


def cbrtl_metrics(expr: str) -> set[str]:
    """cbrtl metric base names an expression selects (histogram suffixes removed)."""
    return {base_name(m) for m in _METRIC.findall(strip_strings(expr))}


def declared_strings(path: Path) -> set[str]:
    """Every string literal in a Python module (how web/metrics.py names its metrics)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


def unknown_metrics(exprs: list[str], declared: set[str]) -> set[str]:
    return {name for expr in exprs for name in cbrtl_metrics(expr)} - declared


def _enclosing_paren(text: str, pos: int) -> int | None:
    """Index of the innermost "(" still open at pos, if any."""
    depth = 0
    for i in range(pos - 1, -1, -1):
        if text[i] == ")":
            depth += 1
        elif text[i] == "(":
            if depth == 0:
                return i
            depth -= 1
    return None


def summed_directly(expr: str, metrics: frozenset[str] = REPLICA_IDENTICAL) -> list[str]:
    """Those of `metrics` an expression wraps directly in sum(...) / sum by (...) (...)."""
    text = strip_strings(expr)
    found = []
    for match in _METRIC.finditer(text):
        name = base_name(match.group())
        if name not in metrics:
            continue
        opening = _enclosing_paren(text, match.start())
        if opening is not None and _SUM_BEFORE.search(text[:opening]):
            found.append(name)
    return found


def balanced(expr: str) -> bool:
    """(), [] and {} open and close in order, string literals aside."""
    stack: list[str] = []
    for char in strip_strings(expr):
        if char in "([{":
            stack.append(char)
        elif char in _PAIRS and (not stack or stack.pop() != _PAIRS[char]):
            return False
    return not stack


def all_panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Top-level panels, and the panels kept inside collapsed rows."""
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def query_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in all_panels(dashboard) if p.get("type") != "row"]


def target_exprs(dashboard: dict[str, Any]) -> list[str]:
    return [t.get("expr", "") for p in query_panels(dashboard) for t in p.get("targets", [])]


def variable_queries(dashboard: dict[str, Any]) -> list[str]:
    out = []
    for variable in dashboard.get("templating", {}).get("list", []):
        query = variable.get("query")
        if isinstance(query, dict):
            query = query.get("query")
        if isinstance(query, str) and query:
            out.append(query)
    return out


def _overlaps(a: dict[str, int], b: dict[str, int]) -> bool:
    return (
        a["x"] < b["x"] + b["w"]
        and b["x"] < a["x"] + a["w"]
        and a["y"] < b["y"] + b["h"]
        and b["y"] < a["y"] + a["h"]
    )


# --- fixtures -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    loaded = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def datasource() -> dict[str, Any]:
    config = yaml.safe_load(DATASOURCES.read_text(encoding="utf-8"))
    sources = [s for s in config["datasources"] if s["type"] == "prometheus"]
    assert len(sources) == 1, sources
    return sources[0]


# --- the helpers catch what they should ---------------------------------------------


def test_unknown_metric_is_caught() -> None:
    declared = {"cbrtl_queue_depth", "cbrtl_http_request_duration_seconds"}
    assert unknown_metrics(["max by (queue) (cbrtl_queue_depth)"], declared) == set()
    assert (
        unknown_metrics(["sum(rate(cbrtl_http_request_duration_seconds_count[1m]))"], declared)
        == set()
    )
    assert unknown_metrics(["max by (queue) (cbrtl_queue_depht)"], declared) == {
        "cbrtl_queue_depht"
    }
    # A label value is not a metric.
    assert unknown_metrics(['max(cbrtl_queue_depth{queue="cbrtl_x"})'], declared) == set()


@pytest.mark.parametrize(
    "expr",
    [
        "sum(cbrtl_queue_depth)",
        "sum by (queue) (cbrtl_queue_depth)",
        "sum(cbrtl_jobs) by (status)",
        'sum without (instance) (cbrtl_jobs{status="dead"})',
        "histogram_quantile(0.95, sum by (le, type) (cbrtl_job_duration_seconds_bucket))",
        "sum  by(status)(cbrtl_jobs)",
    ],
)
def test_sum_over_replicas_is_caught(expr: str) -> None:
    assert summed_directly(expr)


@pytest.mark.parametrize(
    "expr",
    [
        "max by (queue) (cbrtl_queue_depth)",
        "sum by (status) (max by (type, status) (cbrtl_jobs))",
        "max(cbrtl_jobs_dead)",
        "sum by (route) (rate(cbrtl_http_request_duration_seconds_count[1m]))",
        "histogram_quantile(0.95, sum by (le, type) (max by (le, type, status) "
        "(cbrtl_job_duration_seconds_bucket)))",
    ],
)
def test_max_over_replicas_passes(expr: str) -> None:
    assert summed_directly(expr) == []


def test_unbalanced_is_caught() -> None:
    assert balanced('sum(rate(x{a=~"(b"}[5m]))')
    assert not balanced("sum(rate(x[5m])")
    assert not balanced("sum(rate(x[5m)])")
    assert not balanced('max(x{a="b")')


# --- the dashboard ------------------------------------------------------------------


def test_dashboard_identity(dashboard: dict[str, Any]) -> None:
    assert dashboard["uid"] == "cbrtl-overview"
    assert dashboard["title"] == "cbrtl overview"
    assert dashboard["schemaVersion"] == 39
    assert dashboard["refresh"] == "10s"
    assert dashboard["time"] == {"from": "now-1h", "to": "now"}


def test_panel_ids_unique(dashboard: dict[str, Any]) -> None:
    ids = [panel.get("id") for panel in all_panels(dashboard)]
    duplicates = sorted({i for i in ids if ids.count(i) > 1}, key=str)
    assert all(isinstance(i, int) for i in ids), ids
    assert duplicates == []


def test_every_panel_queries_prometheus(
    dashboard: dict[str, Any], datasource: dict[str, Any]
) -> None:
    panels = query_panels(dashboard)
    assert panels
    problems = []
    for panel in panels:
        title = panel.get("title")
        if (panel.get("datasource") or {}).get("uid") != datasource["uid"]:
            problems.append(f"{title}: datasource {panel.get('datasource')}")
        targets = panel.get("targets") or []
        if not any(str(t.get("expr", "")).strip() for t in targets):
            problems.append(f"{title}: no target with an expr")
        for target in targets:
            own = target.get("datasource")
            if own is not None and own.get("uid") != datasource["uid"]:
                problems.append(f"{title}: target datasource {own}")
    assert problems == []


def test_panels_have_unit_and_description(dashboard: dict[str, Any]) -> None:
    problems = [
        panel.get("title")
        for panel in query_panels(dashboard)
        if not panel.get("description", "").strip()
        or not panel.get("fieldConfig", {}).get("defaults", {}).get("unit")
    ]
    assert problems == []


def test_grid_within_24_columns_without_overlaps(dashboard: dict[str, Any]) -> None:
    problems = []
    for panel in all_panels(dashboard):
        pos = panel.get("gridPos") or {}
        ints = all(isinstance(pos.get(k), int) for k in ("x", "y", "w", "h"))
        if not ints or min(pos["x"], pos["y"]) < 0 or min(pos["w"], pos["h"]) < 1:
            problems.append(f"{panel.get('title')}: gridPos {pos}")
        elif pos["x"] + pos["w"] > GRID_COLUMNS:
            problems.append(f"{panel.get('title')}: past column {GRID_COLUMNS}: {pos}")
    assert problems == []
    # Top-level panels share one grid; a collapsed row's panels are laid out on their own.
    groups = [dashboard["panels"]] + [p["panels"] for p in dashboard["panels"] if p.get("panels")]
    for group in groups:
        for i, a in enumerate(group):
            for b in group[i + 1 :]:
                assert not _overlaps(a["gridPos"], b["gridPos"]), (a["title"], b["title"])


def test_route_variable(dashboard: dict[str, Any]) -> None:
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    route = variables["route"]
    assert route["multi"] is True
    assert route["includeAll"] is True
    assert "cbrtl_http_request_duration_seconds_count" in str(route["query"])
    by_route = [
        expr
        for expr in target_exprs(dashboard)
        if any("route" in group for group in re.findall(r"\bby\s*\(([^)]*)\)", expr))
    ]
    assert by_route
    assert [expr for expr in by_route if "$route" not in expr] == []


# --- PromQL -------------------------------------------------------------------------


def test_cbrtl_metrics_are_exported_by_the_app(dashboard: dict[str, Any]) -> None:
    exprs = target_exprs(dashboard) + variable_queries(dashboard)
    used = {name for expr in exprs for name in cbrtl_metrics(expr)}
    assert used >= REPLICA_IDENTICAL  # the checks below look at something
    assert unknown_metrics(exprs, declared_strings(METRICS_PY)) == set()


def test_replica_identical_metrics_are_not_summed(dashboard: dict[str, Any]) -> None:
    exprs = target_exprs(dashboard)
    offending = {expr: found for expr in exprs if (found := summed_directly(expr))}
    assert offending == {}


def test_exprs_are_balanced(dashboard: dict[str, Any]) -> None:
    exprs = target_exprs(dashboard) + variable_queries(dashboard)
    assert [expr for expr in exprs if not balanced(expr)] == []


# --- provisioning -------------------------------------------------------------------


def test_datasource_provisioning(datasource: dict[str, Any], dashboard: dict[str, Any]) -> None:
    assert datasource["uid"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"
    assert datasource["isDefault"] is True
    used = {(p.get("datasource") or {}).get("uid") for p in query_panels(dashboard)}
    assert used == {datasource["uid"]}


def test_dashboards_provider_path() -> None:
    config = yaml.safe_load(PROVIDERS.read_text(encoding="utf-8"))
    providers = config["providers"]
    assert providers
    for provider in providers:
        assert provider["type"] == "file"
        assert provider["options"]["path"] == DASHBOARDS_PATH
