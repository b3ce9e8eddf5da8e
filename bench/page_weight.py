#!/usr/bin/env python3
"""Page weight: the bytes a first view of each page costs on the wire, in headless
Chromium with an empty cache, against the goal "a page's first view costs under 300 KB".

    .venv/bin/python bench/page_weight.py [--reps 3] [--json out.json] [--logs DIR]

The platform runs on its embedded defaults (SQLite, filesystem broker, file storage)
in a temporary CBRTL_DATA_DIR, with no CBRTL_* setting inherited: `cbrtl db upgrade`,
`cbrtl demo seed --titles 400 --users 300 --ratings 20000 --videos 1`, two accounts
(admin@example.org with the admin and creator roles; viewer@example.org with none),
then gunicorn (web.gunicorn_conf) and one Celery worker on every queue. The script
waits for /readyz and for the demo title's video to be "ready" (a 720p transcode).

Each visit is a new browser context (empty cache). A signed-in visit first POSTs
/api/v1/auth/login through `context.request` (the context's cookie jar), then opens
the page. A CDP session (`Network.enable`) sums `encodedDataLength` of every
`Network.loadingFinished` (bytes on the wire, headers included) per request, grouped
by type; `.m3u8` is an HLS playlist, `.m4s`/`.ts`/`.mp4` a segment ("video data").
A view ends at `load` + `networkidle`. Then the page is opened again in the same
context (via about:blank): the repeat view, warm cache. Every visit is made twice per
round: as Chromium sends it (br/gzip) and with `Accept-Encoding: identity` (the
uncompressed baseline); the order alternates between rounds. Medians of --reps rounds.
KB = 1000 bytes.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import benchlib  # puts this checkout first on sys.path

from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS

GOAL_BYTES = 300_000
KB = 1000
VIEWPORT = {"width": 1280, "height": 860}
PASSWORD = "page-weight-password-1234"
ACCOUNTS = {"admin": "admin@example.org", "viewer": "viewer@example.org"}
SEED = ["--titles", "400", "--users", "300", "--ratings", "20000", "--videos", "1"]
VIDEO_CLASSES = ("playlist", "segment")
MODES = ("compressed", "identity")
TIMEOUT_MS = 60_000


@dataclass(frozen=True)
class PageSpec:
    label: str
    path: str  # "{video}" becomes the demo title with the video
    account: str | None  # a key of ACCOUNTS, or anonymous


PAGES = [
    PageSpec("/ anonymous", "/", None),
    PageSpec("/login", "/login", None),
    PageSpec("/register", "/register", None),
    PageSpec("/ signed in", "/", "viewer"),
    PageSpec("/content?id=N", "/content?id={video}", "viewer"),
    PageSpec("/video?id=N", "/video?id={video}", "viewer"),
    PageSpec("/profile", "/profile", "viewer"),
    PageSpec("/upload (creator)", "/upload", "admin"),
    PageSpec("/admin/jobs (admin)", "/admin/jobs", "admin"),
]


# --------------------------------------------------------------------------- platform


def platform_env(data_dir: Path, port: int) -> dict[str, str]:
    """This process's environment without any CBRTL_* (or PORT), plus the run's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CBRTL_") and k != "PORT"}
    env.update(
        CBRTL_DATA_DIR=str(data_dir),
        PORT=str(port),
        # Every signed-in visit logs in from 127.0.0.1 (about 36 in a minute with
        # --reps 3): the documented limit settings, not a code change.
        CBRTL_RATE_LIMIT_LOGIN_IP="100000 per minute",
        CBRTL_RATE_LIMIT_LOGIN_ACCOUNT="100000 per minute",
        PYTHONUNBUFFERED="1",
        PYTHONPATH=os.pathsep.join(filter(None, [str(benchlib.REPO), env.get("PYTHONPATH")])),
    )
    return env


def venv_bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def poll(
    what: str,
    check: Callable[[], bool],
    deadline_s: float,
    procs: list[tuple[Any, Path]],
    every_s: float = 0.5,
) -> float:
    """Call `check` until it is true; fail at the deadline or when a process died."""
    started = time.monotonic()
    while True:
        for proc, log_path in procs:
            if proc.poll() is not None:
                raise RuntimeError(f"{what}: a process exited ({proc.returncode}):\n"
                                   f"{benchlib.tail(log_path)}")  # fmt: skip
        if check():
            return time.monotonic() - started
        if time.monotonic() - started > deadline_s:
            logs = "\n".join(benchlib.tail(p, 15) for _, p in procs)
            raise RuntimeError(f"{what}: not after {deadline_s:.0f} s\n{logs}")
        time.sleep(every_s)


def start_platform(
    procs: benchlib.Processes, workdir: Path
) -> tuple[int, int, dict[str, str], dict[str, Any]]:
    """Seeded platform up with the demo video ready: (port, video title id, env, facts)."""
    port = benchlib.free_port()
    env = platform_env(workdir / "var", port)
    facts: dict[str, Any] = {}
    # The code the children run: this checkout (PYTHONPATH), not the editable install's.
    where = subprocess.run(
        [sys.executable, "-c", "import web; print(web.__file__)"],
        env=env, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    facts["web_package"] = where.stdout.strip()
    benchlib.log(f"children import web from {facts['web_package']}")
    benchlib.log("cbrtl db upgrade")
    benchlib.cbrtl(env, "db", "upgrade")
    benchlib.log("cbrtl demo seed " + " ".join(SEED))
    started = time.monotonic()
    seeded = benchlib.cbrtl(env, "demo", "seed", *SEED)
    facts["seed_s"] = time.monotonic() - started
    found = re.search(r"content (\d+): sample video", seeded)
    if not found:
        raise RuntimeError(f"no sample video in the seed's output:\n{seeded}")
    video_id = int(found.group(1))
    benchlib.cbrtl(env, "users", "create", "--email", ACCOUNTS["admin"], "--password", PASSWORD,
          "--role", "admin", "--role", "creator")  # fmt: skip
    benchlib.cbrtl(env, "users", "create", "--email", ACCOUNTS["viewer"], "--password", PASSWORD)

    web_log, worker_log = workdir / "web.log", workdir / "worker.log"
    web = procs.start(
        "gunicorn",
        [venv_bin("gunicorn"), "--config", "python:web.gunicorn_conf", "web.app:create_app()"],
        env=env,
        log_path=web_log,
    )
    worker_argv = [venv_bin("celery"), "--app", "workers.celery_app", "worker",
                   "--queues", "ratings,default,ml,media", "--concurrency", "2"]  # fmt: skip
    worker = procs.start("celery worker", worker_argv, env=env, log_path=worker_log)
    watched = [(web, web_log), (worker, worker_log)]

    def ready() -> bool:
        try:
            return benchlib.http_json(port, "GET", "/readyz", timeout=2)[0] == 200
        except OSError:
            return False

    facts["readyz_s"] = poll("GET /readyz 200", ready, 90, watched)
    benchlib.log(f"web ready on :{port}; waiting for content {video_id}'s video")

    def transcoded() -> bool:
        status, body = benchlib.http_json(port, "GET", f"/api/v1/content/{video_id}/video")
        if status == 200 and isinstance(body, dict) and body.get("status") == "failed":
            raise RuntimeError(f"the demo video failed: {body}")
        if status == 200 and isinstance(body, dict) and body.get("status") == "ready":
            facts["video"] = body
            return True
        return False

    facts["video_ready_s"] = poll("demo video ready", transcoded, 600, watched, every_s=1.0)
    benchlib.log(f"video ready after {facts['video_ready_s']:.0f} s")
    return port, video_id, env, facts


# --------------------------------------------------------------------------- one visit


def classify(url: str, cdp_type: str) -> str:
    path = urlsplit(url).path.lower()
    if path.endswith(".m3u8"):
        return "playlist"
    if path.endswith((".m4s", ".ts", ".mp4")):
        return "segment"
    kind = cdp_type.lower()
    if kind in ("xhr", "fetch"):
        return "fetch/xhr"
    if kind in ("document", "stylesheet", "script", "image", "media", "font"):
        return kind
    return "other"


class Recorder:
    """Network events of one page through CDP, per request id."""

    def __init__(self) -> None:
        self.requests: dict[str, dict[str, Any]] = {}

    def clear(self) -> None:
        self.requests = {}

    def _entry(self, request_id: str) -> dict[str, Any]:
        return self.requests.setdefault(
            request_id,
            {"url": "", "type": "", "bytes": 0, "status": None, "encoding": "",
             "finished": False, "failed": "", "from_cache": False, "accept_encoding": None},
        )  # fmt: skip

    def will_be_sent(self, event: dict[str, Any]) -> None:
        entry = self._entry(event["requestId"])
        entry["url"] = event["request"]["url"]
        entry["type"] = event.get("type", "")
        if event.get("redirectResponse"):
            entry.setdefault("redirects", []).append(event["redirectResponse"].get("status"))

    def extra_info(self, event: dict[str, Any]) -> None:
        headers = {k.lower(): v for k, v in event.get("headers", {}).items()}
        self._entry(event["requestId"])["accept_encoding"] = headers.get("accept-encoding")

    def response(self, event: dict[str, Any]) -> None:
        entry = self._entry(event["requestId"])
        response = event["response"]
        headers = {k.lower(): v for k, v in response.get("headers", {}).items()}
        entry["status"] = response.get("status")
        entry["encoding"] = headers.get("content-encoding", "")
        entry["cache_control"] = headers.get("cache-control", "")
        entry["from_cache"] = bool(
            response.get("fromDiskCache") or response.get("fromPrefetchCache")
        )
        entry["type"] = entry["type"] or event.get("type", "")

    def served_from_cache(self, event: dict[str, Any]) -> None:
        self._entry(event["requestId"])["from_cache"] = True

    def finished(self, event: dict[str, Any]) -> None:
        entry = self._entry(event["requestId"])
        entry["bytes"] = int(event.get("encodedDataLength", 0))
        entry["finished"] = True

    def failed(self, event: dict[str, Any]) -> None:
        entry = self._entry(event["requestId"])
        entry["failed"] = event.get("errorText", "failed") + (
            " (canceled)" if event.get("canceled") else ""
        )
        entry["type"] = entry["type"] or event.get("type", "")

    def attach(self, cdp: Any) -> None:
        cdp.on("Network.requestWillBeSent", self.will_be_sent)
        cdp.on("Network.requestWillBeSentExtraInfo", self.extra_info)
        cdp.on("Network.responseReceived", self.response)
        cdp.on("Network.requestServedFromCache", self.served_from_cache)
        cdp.on("Network.loadingFinished", self.finished)
        cdp.on("Network.loadingFailed", self.failed)

    def summary(self) -> dict[str, Any]:
        """Bytes by class, totals with and without video data, the requests themselves."""
        rows = []
        for entry in self.requests.values():
            if not entry["url"].startswith(("http://", "https://")):
                continue  # data: and blob: URLs cost nothing on the wire
            rows.append({**entry, "class": classify(entry["url"], entry["type"])})
        by_class: dict[str, int] = defaultdict(int)
        count_by_class: Counter[str] = Counter()
        for row in rows:
            by_class[row["class"]] += row["bytes"]
            count_by_class[row["class"]] += 1
        video = sum(by_class[c] for c in VIDEO_CLASSES)
        total = sum(by_class.values())
        on_network = [r for r in rows if r["bytes"] > 0]
        return {
            "total_bytes": total,
            "bytes_excl_video": total - video,
            "video_bytes": video,
            "requests": len(rows),
            "requests_on_network": len(on_network),
            "video_requests": sum(count_by_class[c] for c in VIDEO_CLASSES),
            "by_class": dict(by_class),
            "count_by_class": dict(count_by_class),
            "encoded_responses": sum(1 for r in rows if r["encoding"]),
            "encodings": dict(Counter(r["encoding"] or "none" for r in rows if r["status"])),
            "unfinished": [r["url"] for r in rows if not r["finished"] and not r["failed"]],
            "failed": [f"{r['url']}: {r['failed']}" for r in rows if r["failed"]],
            "http_errors": [f"{r['status']} {r['url']}" for r in rows if (r["status"] or 0) >= 400],
            "requests_detail": sorted(rows, key=lambda r: -r["bytes"]),
        }


def visit(
    browser: Any, base_url: str, spec: PageSpec, path: str, mode: str, problems: list[str]
) -> dict[str, Any]:
    """One first view and one repeat view of a page in a new context."""
    headers = {"Accept-Encoding": "identity"} if mode == "identity" else None
    context = browser.new_context(base_url=base_url, viewport=VIEWPORT, extra_http_headers=headers)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        if spec.account:
            answer = context.request.post(
                "/api/v1/auth/login",
                data={"email": ACCOUNTS[spec.account], "password": PASSWORD},
            )
            if not answer.ok:
                raise RuntimeError(f"login as {spec.account}: {answer.status} {answer.text()}")
        page = context.new_page()
        where = f"{spec.label} [{mode}]"

        def on_console(message: Any) -> None:
            if message.type == "error":
                problems.append(f"{where}: console error: {message.text}")

        page.on("console", on_console)
        page.on("pageerror", lambda error: problems.append(f"{where}: script error: {error}"))
        recorder = Recorder()
        cdp = context.new_cdp_session(page)
        recorder.attach(cdp)
        cdp.send("Network.enable")

        views: dict[str, Any] = {}
        for view in ("first", "repeat"):
            if view == "repeat":
                page.goto("about:blank")
                recorder.clear()
            started = time.perf_counter()
            response = page.goto(path, wait_until="load")
            page.wait_for_load_state("networkidle")
            elapsed = time.perf_counter() - started
            summary = recorder.summary()
            summary["seconds"] = elapsed
            summary["document_status"] = response.status if response else None
            summary["final_path"] = urlsplit(page.url).path + (
                "?" + urlsplit(page.url).query if urlsplit(page.url).query else ""
            )
            if spec.path.startswith("/video"):
                summary["player_status"] = page.get_attribute("[data-player]", "data-status")
                summary["quality_options"] = page.locator("[data-quality] option").count()
            views[view] = summary
        first = views["first"]
        if first["document_status"] != 200 or first["final_path"] != path:
            raise RuntimeError(
                f"{where}: document {first['document_status']} at {first['final_path']}, "
                f"expected 200 at {path}"
            )
        cdp.detach()
        return views
    finally:
        context.close()


# --------------------------------------------------------------------------- the run


def measure(
    browser: Any, base_url: str, video_id: int, reps: int, problems: list[str]
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {
        spec.label: {mode: [] for mode in MODES} for spec in PAGES
    }
    for rep in range(reps):
        order = MODES if rep % 2 == 0 else tuple(reversed(MODES))
        for spec in PAGES:
            path = spec.path.format(video=video_id)
            for mode in order:
                views = visit(browser, base_url, spec, path, mode, problems)
                runs[spec.label][mode].append(views)
                first, repeat = views["first"], views["repeat"]
                benchlib.log(
                    f"round {rep + 1}/{reps} {spec.label:<22} {mode:<10} first "
                    f"{first['bytes_excl_video'] / KB:8.1f} KB + video "
                    f"{first['video_bytes'] / KB:7.1f} KB in {first['requests']:2d} requests; "
                    f"repeat {repeat['total_bytes'] / KB:6.1f} KB"
                )
    return runs


def stats(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def summarize(runs: dict[str, dict[str, list[dict[str, Any]]]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for label, modes in runs.items():
        row: dict[str, Any] = {}
        for mode, visits in modes.items():
            firsts = [v["first"] for v in visits]
            repeats = [v["repeat"] for v in visits]
            row[mode] = {
                "first_excl_video": stats([f["bytes_excl_video"] for f in firsts]),
                "first_video": stats([f["video_bytes"] for f in firsts]),
                "first_total": stats([f["total_bytes"] for f in firsts]),
                "requests": stats([f["requests"] for f in firsts]),
                "repeat_excl_video": stats([r["bytes_excl_video"] for r in repeats]),
                "repeat_video": stats([r["video_bytes"] for r in repeats]),
                "repeat_requests_on_network": stats([r["requests_on_network"] for r in repeats]),
            }
        comp, ident = row["compressed"], row["identity"]
        row["ratio_compressed_identity"] = (
            comp["first_excl_video"]["median"] / ident["first_excl_video"]["median"]
        )
        # The heaviest requests of the median compressed first view.
        firsts = sorted(
            (v["first"] for v in modes["compressed"]), key=lambda f: f["bytes_excl_video"]
        )
        middle = firsts[(len(firsts) - 1) // 2]
        row["top_requests"] = [
            {"url": strip_origin(r["url"]), "class": r["class"], "bytes": r["bytes"],
             "encoding": r["encoding"] or "none", "status": r["status"]}
            for r in middle["requests_detail"][:5]
        ]  # fmt: skip
        row["by_class"] = middle["by_class"]
        out[label] = row
    return out


def strip_origin(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def kb(value: float) -> str:
    return f"{value / KB:.1f}"


def spread(s: dict[str, float]) -> str:
    if s["min"] == s["max"]:
        return kb(s["median"])
    return f"{kb(s['median'])} ({kb(s['min'])}-{kb(s['max'])})"


def report(
    summary: dict[str, Any],
    runs: dict[str, dict[str, list[dict[str, Any]]]],
    reps: int,
    video_id: int,
    problems: list[str],
    log_lines: dict[str, list[str]],
    machine: dict[str, str],
    loads: tuple[float, float],
    started: str,
) -> str:
    lines = [
        f"First view with an empty cache, headless Chromium {VIEWPORT['width']}x"
        f"{VIEWPORT['height']}; bytes on the wire (CDP encodedDataLength, headers "
        f"included); median of {reps} rounds (min-max when they differ); KB = 1000 bytes. "
        f"N = {video_id} (the demo title with the ready video).",
        "",
        "| page | requests | first view KB (excl. video) | video KB | identity KB | "
        "compressed/identity | repeat view KB |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, row in summary.items():
        comp, ident = row["compressed"], row["identity"]
        repeat = spread(comp["repeat_excl_video"])
        if comp["repeat_video"]["max"] > 0:
            repeat += f" + {spread(comp['repeat_video'])} video"
        requests = f"{comp['requests']['median']:.0f}"
        if comp["requests"]["min"] != comp["requests"]["max"]:
            requests += f" ({comp['requests']['min']:.0f}-{comp['requests']['max']:.0f})"
        cells = [
            f"`{label}`",
            requests,
            spread(comp["first_excl_video"]),
            spread(comp["first_video"]) if comp["first_video"]["max"] else "0",
            spread(ident["first_excl_video"]),
            f"{row['ratio_compressed_identity']:.3f}",
            repeat,
        ]
        lines.append("| " + " | ".join(cells) + " |")

    worst_label = max(summary, key=lambda x: summary[x]["compressed"]["first_excl_video"]["median"])
    worst = summary[worst_label]["compressed"]["first_excl_video"]["median"]
    over = [
        x for x in summary if summary[x]["compressed"]["first_excl_video"]["median"] >= GOAL_BYTES
    ]
    verdict = "met" if not over else f"NOT met by {', '.join(over)}"
    lines += [
        "",
        f"- Heaviest first view (excl. video): `{worst_label}` {kb(worst)} KB; goal < "
        f"{kb(GOAL_BYTES)} KB: **{verdict}**.",
    ]
    for label in dict.fromkeys([worst_label, *over]):
        lines.append(f"- Top requests of `{label}` (median compressed first view):")
        for r in summary[label]["top_requests"]:
            lines.append(f"  - {kb(r['bytes'])} KB {r['class']} `{r['url']}` "
                         f"({r['status']}, {r['encoding']})")  # fmt: skip
    encoded = {
        mode: sum(v["first"]["encoded_responses"] for m in runs.values() for v in m[mode])
        for mode in MODES
    }
    accept = sorted({
        str(r["accept_encoding"])
        for m in runs.values() for v in m["identity"] for r in v["first"]["requests_detail"]
        if r["class"] == "document"
    })  # fmt: skip
    lines.append(
        f"- Encoded responses over all first views: compressed {encoded['compressed']}, "
        f"identity {encoded['identity']} (identity documents sent Accept-Encoding: "
        f"{', '.join(accept)})."
    )
    issues: Counter[str] = Counter()
    for label, modes in runs.items():
        for mode, visits in modes.items():
            for v in visits:
                for view in ("first", "repeat"):
                    for item in (
                        v[view]["http_errors"]
                        + v[view]["failed"]
                        + [f"unfinished {u}" for u in v[view]["unfinished"]]
                    ):
                        issues[f"{label} [{mode}, {view}]: {strip_origin_text(item)}"] += 1
    lines.append(f"- HTTP >= 400, failed or unfinished requests: {len(issues) or 'none'}")
    lines += [f"  - {text} (x{n})" for text, n in sorted(issues.items())]
    distinct = Counter(re.sub(r"\[(compressed|identity)\]", "[*]", p) for p in problems)
    lines.append(f"- Console errors and script errors: {sum(distinct.values()) or 'none'}")
    lines += [f"  - {text} (x{n})" for text, n in sorted(distinct.items())]
    for name, found in log_lines.items():
        lines.append(f"- {name} log warnings/errors: {len(found) or 'none'}")
        lines += [f"  - `{x[:300]}`" for x in found[:10]]
    lines += [
        f"- Load average (1 min): {loads[0]:.2f} at the start, {loads[1]:.2f} at the end.",
        "",
        *benchlib.machine_footer(machine, started),
    ]
    return "\n".join(lines)


def strip_origin_text(text: str) -> str:
    return re.sub(r"https?://[^/\s]+", "", text)


def machine_description(browser_version: str) -> dict[str, str]:
    """nproc, memory, CPU, kernel, commit, Python, Chromium, Playwright."""
    from importlib.metadata import version

    meminfo = Path("/proc/meminfo").read_text()
    found = re.search(r"MemTotal:\s+(\d+)", meminfo)
    models = re.findall(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
    return {
        "nproc": str(len(os.sched_getaffinity(0))),
        "memory": f"{int(found.group(1)) / 1024 / 1024:.1f} GiB" if found else "?",
        "cpu": models[0].strip() if models else platform.processor(),
        "kernel": platform.release(),
        "code": benchlib.code_version(),
        "python": platform.python_version(),
        "chromium": browser_version,
        "playwright": version("playwright"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3, help="rounds (each: every page, both modes)")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--logs", type=Path, help="copy the gunicorn and worker logs here")
    parser.set_defaults(cleanup_stale=False)
    args = parser.parse_args()
    if not CHROMIUM.exists():
        parser.error(f"{CHROMIUM} not found (Debian's chromium package)")
    results: dict[str, Any] = {}

    def body() -> str:
        from playwright.sync_api import sync_playwright

        started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
        load_start = os.getloadavg()[0]
        procs = benchlib.Processes()
        workdir = Path(tempfile.mkdtemp(prefix="page_weight_"))
        problems: list[str] = []
        try:
            port, video_id, _env, facts = start_platform(procs, workdir)
            base_url = f"http://127.0.0.1:{port}"
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
                )
                try:
                    machine = machine_description(browser.version)
                    runs = measure(browser, base_url, video_id, args.reps, problems)
                finally:
                    browser.close()
            log_lines = {
                "gunicorn": benchlib.log_problems(workdir / "web.log"),
                "worker": benchlib.log_problems(workdir / "worker.log"),
            }
        finally:
            benchlib.ignore_signals()
            procs.stop_all()
            if args.logs is not None:
                args.logs.mkdir(parents=True, exist_ok=True)
                for path in workdir.glob("*.log"):
                    shutil.copy2(path, args.logs / path.name)
            shutil.rmtree(workdir, ignore_errors=True)
        loads = (load_start, os.getloadavg()[0])
        summary = summarize(runs)
        results.update(
            started=started,
            reps=args.reps,
            kb=KB,
            goal_bytes=GOAL_BYTES,
            video_id=video_id,
            platform=facts,
            machine=machine,
            load1=loads,
            summary=summary,
            console_problems=problems,
            log_problems=log_lines,
            runs=runs,
        )
        return report(summary, runs, args.reps, video_id, problems, log_lines, machine, loads,
                      started)  # fmt: skip

    return benchlib.guarded_main(args, body, lambda: results)


if __name__ == "__main__":
    raise SystemExit(main())
