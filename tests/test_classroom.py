"""Serving a class: `symbreak serve` (workers behind nginx), the security headers, and the manifests of deploy/.

The manifests are checked offline (`kubectl kustomize`, no cluster). One `symbreak serve --workers 2` runs for
the module; the test that kills a worker comes last.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import http.client
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from browser_kit import (
    ALL_CHARTS_DRAWN_JS,
    APP_IDLE,
    ROOT,
    assert_no_exception,
    click_and_wait,
    free_port,
    open_app,
    playground_step,
)
from st_protocol import Client, run_async

from symbreak.serving import cpus, serve
from symbreak.serving.headers import SecurityHeaders, inline_script_hashes, security_headers

DEPLOY = ROOT / "deploy"
KUSTOMIZE_DIR = DEPLOY / "kubernetes"
COMPOSE = DEPLOY / "compose"
HEALTH = "/_stcore/health"
WORKER_COOKIE = re.compile(rf"{serve.COOKIE}=(\d+)")
RESTART_SECONDS = 120


def app_pages() -> list[str]:
    """The URL path of every page app.py navigates to: the Playground at the root, each lesson by its URL path,
    and the Teach page."""
    from pages.lessons import LESSONS

    return [""] + [url for path, _, url in LESSONS if (ROOT / path).exists()] + ["teach"]


# ------------------------------------------------------------------ the manifests, offline
@pytest.fixture(scope="module")
def manifests() -> dict[str, dict]:
    """`kubectl kustomize deploy/kubernetes`, the app's own objects by kind (the class store's Redis is
    tests/test_deploy_store.py's)."""
    if not shutil.which("kubectl"):
        pytest.fail("kubectl is missing: install it to render deploy/kubernetes (no cluster is needed)")
    done = subprocess.run(["kubectl", "kustomize", str(KUSTOMIZE_DIR)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    docs = [d for d in yaml.safe_load_all(done.stdout) if d and "redis" not in d["metadata"]["name"]]
    kinds = [d["kind"] for d in docs]
    assert len(set(kinds)) == len(kinds), kinds
    return {d["kind"]: d for d in docs}


def container(manifests: dict[str, dict]) -> dict:
    (only,) = manifests["Deployment"]["spec"]["template"]["spec"]["containers"]
    return only


def test_ingress_pins_each_browser_to_a_pod_by_cookie(manifests):
    ingress = manifests["Ingress"]
    notes = ingress["metadata"]["annotations"]
    assert notes["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    assert notes["nginx.ingress.kubernetes.io/session-cookie-name"] == serve.COOKIE
    assert notes["nginx.ingress.kubernetes.io/affinity-mode"] == "persistent"
    assert int(notes["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600, "websockets idle between clicks"
    assert notes["nginx.ingress.kubernetes.io/proxy-body-size"] == serve.MAX_BODY
    assert ingress["spec"]["ingressClassName"] == "nginx"
    (path,) = ingress["spec"]["rules"][0]["http"]["paths"]
    service = manifests["Service"]
    assert path["backend"]["service"]["name"] == service["metadata"]["name"]
    assert path["backend"]["service"]["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}


def test_service_selects_the_deployments_pods(manifests):
    labels = manifests["Deployment"]["spec"]["template"]["metadata"]["labels"]
    selector = manifests["Service"]["spec"]["selector"]
    assert selector and selector.items() <= labels.items()
    assert manifests["Deployment"]["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_probes_ask_streamlits_health(manifests):
    app = container(manifests)
    ports = {p["name"]: p["containerPort"] for p in app["ports"]}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        check = app[probe]["httpGet"]
        assert check["path"] == HEALTH, probe
        assert check["port"] in ports and ports[check["port"]] == 8501, probe


def test_pods_run_as_the_images_unprivileged_user(manifests):
    pod = manifests["Deployment"]["spec"]["template"]["spec"]["securityContext"]
    assert pod["runAsNonRoot"] is True and pod["runAsUser"] == 10001
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^USER 10001\b", dockerfile, re.M), "the image's USER is the pods' runAsUser"
    app = container(manifests)
    assert app["securityContext"]["allowPrivilegeEscalation"] is False
    assert app["securityContext"]["capabilities"]["drop"] == ["ALL"]


def test_one_core_per_pod_and_memory_for_its_sessions(manifests):
    resources = container(manifests)["resources"]
    assert resources["requests"]["cpu"] == "1", "one Streamlit process computes on one core"
    assert set(resources["limits"]) == {"cpu", "memory"}
    mib = {"Mi": 1, "Gi": 1024}
    memory = {k: int(v[:-2]) * mib[v[-2:]] for k, v in
              (("request", resources["requests"]["memory"]), ("limit", resources["limits"]["memory"]))}
    assert 400 <= memory["request"] <= memory["limit"]


def test_the_autoscaler_follows_cpu(manifests):
    hpa = manifests["HorizontalPodAutoscaler"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"]["name"] == manifests["Deployment"]["metadata"]["name"]
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu" and 0 < metric["resource"]["target"]["averageUtilization"] <= 100
    assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]


def test_pods_and_compose_run_the_entry_with_the_headers(manifests):
    """Both deployments start deploy/asgi.py, which exists and wraps app.py with the headers."""
    compose = yaml.safe_load((COMPOSE / "compose.yaml").read_text())
    app = compose["services"]["symbreak"]
    for command in (container(manifests)["command"], app["entrypoint"]):
        assert command[:3] == ["streamlit", "run", "deploy/asgi.py"], command
        assert "--server.address=0.0.0.0" in command
    entry = (DEPLOY / "asgi.py").read_text()
    assert "SecurityHeaders" in entry and '"app.py"' in entry
    assert not any(p == "deploy" or p.startswith("deploy/") for p in dockerignore()), "the image needs deploy/"


def dockerignore() -> list[str]:
    return [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
            if line.strip() and not line.startswith("#")]


def test_compose_has_replicas_behind_nginx():
    compose = yaml.safe_load((COMPOSE / "compose.yaml").read_text())
    app, proxy = compose["services"]["symbreak"], compose["services"]["proxy"]
    assert app["deploy"]["replicas"] >= 2
    assert app["build"]["context"] == "../.." and (COMPOSE / app["build"]["context"] / "Dockerfile").exists()
    assert proxy["image"].startswith("nginx:")
    assert proxy["depends_on"]["symbreak"]["condition"] == "service_healthy", "traffic only after the health check"
    mount = next(v for v in proxy["volumes"] if v.endswith(":/etc/nginx/nginx.conf:ro"))
    assert (COMPOSE / mount.split(":")[0]).resolve() == COMPOSE / "nginx.conf"
    listen = re.search(r"listen (\d+);", (COMPOSE / "nginx.conf").read_text()).group(1)
    assert any(p.endswith(f":{listen}") for p in proxy["ports"])


def nginx_accepts(conf: str, directory: Path) -> subprocess.CompletedProcess:
    """`nginx -t` on a configuration text, with every path it writes inside `directory`."""
    path = directory / "nginx.conf"
    path.write_text(conf)
    return subprocess.run([*serve.nginx_command(path), "-t"], capture_output=True, text=True)


def test_compose_nginx_conf_is_valid(tmp_path):
    """The compose proxy's config passes `nginx -t` (the replicas' host name swapped for this machine's)."""
    text = (COMPOSE / "nginx.conf").read_text()
    assert "server symbreak:8501" in text
    local = text.replace("server symbreak:8501", "server 127.0.0.1:8501").replace(
        "http {", f"http {{\n    client_body_temp_path {tmp_path}/body;\n    proxy_temp_path {tmp_path}/proxy;"
        f"\n    fastcgi_temp_path {tmp_path}/f;\n    uwsgi_temp_path {tmp_path}/u;\n    scgi_temp_path {tmp_path}/s;"
        f"\n    access_log {tmp_path}/access.log;", 1)
    local = f"pid {tmp_path}/nginx.pid;\n" + local
    done = nginx_accepts(local, tmp_path)
    assert done.returncode == 0, done.stderr


# ------------------------------------------------------------------ the rendered nginx config and the headers
def test_rendered_config_is_valid_and_complete(tmp_path):
    conf_path = serve.write_nginx_files(tmp_path, [18601, 18602], free_port(), "127.0.0.1")
    conf = conf_path.read_text()
    assert "@@" not in conf
    done = subprocess.run([*serve.nginx_command(conf_path), "-t"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    for port in (18601, 18602):
        assert f'"{port}" symbreak_{port};' in conf, "a cookie naming a worker routes to it"
        assert f"server 127.0.0.1:{port} max_fails=1" in conf
    for name, value in security_headers().items():
        assert f'add_header {name} "{value}" always;' in conf
    assert (tmp_path / "_symbreak" / "restarted.html").read_text() == serve.RESTARTED_PAGE


def test_csp_hashes_match_the_browsers_algorithm():
    """The hash of an inline script, as the CSP specification's own example computes it."""
    assert inline_script_hashes("<p><script>alert('Hello, world.');</script>") == [
        "'sha256-qznLcsROx4GACP2dm0UCKCzCG+HiZ1guq6ZZDob/Tng='"]
    assert inline_script_hashes('<script type="module" src="x.js"></script>') == []


def test_csp_allows_streamlits_own_inline_script():
    import streamlit

    index = (Path(streamlit.__file__).parent / "static" / "index.html").read_text()
    bodies = re.findall(r"<script>(.*?)</script>", index, re.S)
    policy = security_headers()["Content-Security-Policy"]
    for body in bodies:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy
    assert "frame-ancestors 'self'" in policy and "'unsafe-eval'" not in policy


def test_the_middleware_adds_the_headers_to_http_only():
    sent: list[dict] = []

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"x-frame-options", b"ALLOWALL"), (b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})

    async def send(message):
        sent.append(message)

    async def receive():
        return {"type": "http.request"}

    asyncio.run(SecurityHeaders(app)({"type": "http"}, receive, send))
    headers = dict(sent[0]["headers"])
    for name, value in security_headers().items():
        assert headers[name.lower().encode()] == value.encode()
    assert [n for n, _ in sent[0]["headers"]].count(b"x-frame-options") == 1
    assert headers[b"content-type"] == b"text/plain" and sent[1]["body"] == b"ok"
    sent.clear()

    async def socket_app(scope, receive, send):
        await send({"type": "websocket.accept", "headers": []})

    asyncio.run(SecurityHeaders(socket_app)({"type": "websocket"}, receive, send))
    assert sent == [{"type": "websocket.accept", "headers": []}]


def test_a_worker_has_torch_loaded_before_its_first_student(tmp_path):
    """The first student on a worker does not wait about 2 s for torch, plotly and pandas to load (nor does
    everyone else on that worker meanwhile): the worker imports them before its server starts."""
    worker = serve.Worker(free_port(), serve.DEFAULT_APP, tmp_path / "worker.log", serve.worker_env("secret"))
    worker.start()
    try:
        serve.wait_healthy([worker])
        maps = Path(f"/proc/{worker.process.pid}/maps").read_text()
        assert "libtorch_cpu" in maps, "the worker answers its health check with torch not loaded"
    finally:
        worker.stop()


def test_serve_refuses_bad_arguments_in_one_line():
    with socket.create_server(("127.0.0.1", 0)) as busy:
        taken = str(busy.getsockname()[1])
        for args in (["--workers", "0", "--port", str(free_port())], ["--app", "no-such-app.py"],
                     ["--workers", "1", "--bind", "127.0.0.1", "--port", taken]):
            done = subprocess.run([sys.executable, "-m", "symbreak.serving.serve", *args], capture_output=True, text=True,
                                  cwd=ROOT, timeout=60)
            assert done.returncode == 2, done.stderr
            assert done.stderr.startswith("symbreak: error: --") and done.stderr.count("\n") == 1, done.stderr
            assert args[1] in done.stderr or args[-1] in done.stderr


@pytest.mark.parametrize(("files", "cores", "workers"), [
    ({}, 4, 4),
    ({"cpu.max": "max 100000\n"}, 4, 4),
    ({"cpu.max": "200000 100000\n"}, 4, 2),
    ({"cpu.max": "150000 100000\n"}, 4, 2),
    ({"cpu.max": "50000 100000\n"}, 4, 1),
    ({"cpu.max": "800000 100000\n"}, 2, 2),
    ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, 4, 4),
    ({"cpu,cpuacct/cpu.cfs_quota_us": "300000\n", "cpu,cpuacct/cpu.cfs_period_us": "100000\n"}, 8, 3),
    ({"cpu.cfs_quota_us": "100000\n", "cpu.cfs_period_us": "50000\n"}, 1, 1),
])
def test_one_worker_per_cpu_the_cgroup_and_the_affinity_allow(tmp_path, files, cores, workers):
    """cgroup v2 (cpu.max) and v1 (cpu.cfs_quota_us over cpu.cfs_period_us) quotas, rounded up, below the cores."""
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)
    assert cpus.usable_cpus(tmp_path, cores) == workers


def test_serve_takes_its_defaults_and_streamlits_flags_from_the_container(monkeypatch):
    monkeypatch.setenv(serve.CPUS_ENV, "3")
    assert serve.env_number(serve.CPUS_ENV, 0) == 3
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv(serve.CPUS_ENV, bad)
        with pytest.raises(serve.ServeError, match=f"{serve.CPUS_ENV} must be a whole number"):
            serve.env_number(serve.CPUS_ENV, 0)
    monkeypatch.delenv(serve.PORT_ENV, raising=False)
    assert serve.env_number(serve.PORT_ENV, serve.DEFAULT_PORT) == 8501
    command = serve.Worker(18601, serve.DEFAULT_APP, Path("log"), {}, flags=["--theme.base", "dark"]).command()
    assert command.index("dark") < command.index("--server.port=18601"), "serve's own flags come last, and win"
    with pytest.raises(SystemExit) as refused:
        serve.command_line(["--theme.base=dark", "--no-such-flag"])
    assert refused.value.code == 2


@pytest.mark.classroom
def test_one_worker_answers_on_the_port_itself_with_the_headers():
    """One CPU, one worker: no nginx between it and the browser, still kept to one core, still with the headers;
    stopping the class stops its watchdog."""
    room = serve.Classroom(1, free_port(), bind="127.0.0.1")
    try:
        room.start()
        watchdog = threading.Thread(target=room.run, daemon=True)
        watchdog.start()
        (worker,) = room.workers
        assert room.nginx is None and worker.port == room.port
        connection = http.client.HTTPConnection("127.0.0.1", room.port, timeout=30)
        connection.request("GET", "/")
        reply = connection.getresponse()
        assert reply.status == 200 and b"<html" in reply.read().lower()
        for name, value in security_headers().items():
            assert reply.getheader(name) == value, name
        if len(os.sched_getaffinity(0)) >= 2:
            assert len(os.sched_getaffinity(worker.process.pid)) == 1
    finally:
        room.stop()
        shutil.rmtree(room.dir, ignore_errors=True)
    watchdog.join(timeout=15)
    assert not watchdog.is_alive() and not worker.alive()


@pytest.fixture
def nginx_dir() -> Iterator[Path]:
    """A directory for nginx's files that its workers can read (pytest's own tmp_path is private to root)."""
    directory = Path(tempfile.mkdtemp(prefix="symbreak-serve-test-"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_no_worker_up_gets_the_reload_page(nginx_dir):
    """While no worker answers (both restarting), nginx answers at once with a page that says what to do."""
    port = free_port()
    conf = serve.write_nginx_files(nginx_dir, [free_port(), free_port()], port, "127.0.0.1")
    proxy = subprocess.Popen(serve.nginx_command(conf), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                connection.request("GET", "/")
                break
            except ConnectionRefusedError:
                time.sleep(0.1)
        reply = connection.getresponse()
        body = reply.read().decode()
        assert reply.status == 502
        assert "This worker restarted: reload the page" in body and reply.getheader("Content-Type") == "text/html"
        assert reply.getheader("X-Frame-Options") == "SAMEORIGIN"
    finally:
        proxy.terminate()
        proxy.wait(timeout=10)


# ------------------------------------------------------------------ symbreak serve --workers 2
@pytest.fixture(scope="module")
def classroom() -> Iterator[serve.Classroom]:
    """Two workers behind nginx on a free port, with the watchdog running, for the whole module."""
    room = serve.Classroom(2, free_port(), bind="127.0.0.1")
    watchdog = None
    try:
        room.start()
        watchdog = threading.Thread(target=room.run, daemon=True)
        watchdog.start()
        yield room
    finally:
        room.stop()
        if watchdog is not None:
            watchdog.join(timeout=15)
        shutil.rmtree(room.dir, ignore_errors=True)


def url(room: serve.Classroom, path: str = "/") -> str:
    return f"http://127.0.0.1:{room.port}{path}"


def get(room: serve.Classroom, path: str = "/", worker: int | None = None) -> tuple[int, dict[str, str], int | None]:
    """GET through the proxy (with the stickiness cookie naming `worker`): status, headers, the worker that
    answered (from the cookie nginx sets)."""
    connection = http.client.HTTPConnection("127.0.0.1", room.port, timeout=30)
    try:
        connection.request("GET", path, headers={"Cookie": f"{serve.COOKIE}={worker}"} if worker else {})
        reply = connection.getresponse()
        reply.read()
        cookies = " ".join(v for k, v in reply.getheaders() if k.lower() == "set-cookie")
        match = WORKER_COOKIE.search(cookies)
        return reply.status, dict(reply.getheaders()), int(match.group(1)) if match else None
    finally:
        connection.close()


@pytest.mark.classroom
def test_each_worker_keeps_to_a_core_of_its_own(classroom):
    """A worker's threads share one interpreter lock: each worker (all its threads) stays on one core, and with
    two workers and at least two cores, on different ones."""
    cores = sorted(os.sched_getaffinity(0))
    pinned = []
    for worker in classroom.workers:
        for task in Path(f"/proc/{worker.process.pid}/task").iterdir():
            allowed = os.sched_getaffinity(int(task.name))
            assert len(allowed) == 1 or len(cores) < 2, f"worker {worker.port}'s thread {task.name} may use {allowed}"
        pinned.append(os.sched_getaffinity(worker.process.pid))
    if len(cores) >= 2:
        assert pinned[0] != pinned[1], f"both workers on {pinned[0]}"


def test_every_response_carries_the_security_headers(classroom):
    for path in ("/", HEALTH, "/static/js/does-not-exist.js"):
        _, headers, _ = get(classroom, path)
        for name, value in security_headers().items():
            assert headers.get(name) == value, (path, name)


@pytest.mark.classroom
def test_new_browsers_spread_over_both_workers_and_stay(classroom):
    ports = {w.port for w in classroom.workers}
    first = [get(classroom)[2] for _ in range(6)]
    assert set(first) == ports, f"new browsers went to {first}, workers are {ports}"
    for port in ports:
        assert {get(classroom, path, worker=port)[2] for path in ("/", HEALTH, "/")} == {port}


# ------------------------------------------------------------------ students as protocol clients
STUDENTS = 10
STEP_LINE = re.compile(r"^(?::gray\[)?Step ([\d,]+) ·")  # the markdown source of the line under the headline


def shown_step(student: Client) -> int:
    """The step the student's Playground shows (the line under its headline)."""
    for text in student.texts():
        match = STEP_LINE.match(text)
        if match:
            return int(match.group(1).replace(",", ""))
    raise AssertionError(f"no 'Step N ·' line among {student.texts()[:8]}")


def worker_of(student: Client) -> int:
    """The worker (its port) that answered the student last, from the cookie nginx set."""
    return int(student.cookies[serve.COOKIE])


async def press_times(student: Client, label: str, times: int) -> None:
    for _ in range(times):
        await student.press(label)


@pytest.mark.classroom
def test_ten_students_at_once_each_keep_their_own_trainer(classroom):
    async def lesson() -> tuple[list[int], list[int], list[int]]:
        students = [Client(url(classroom)) for _ in range(STUDENTS)]
        await asyncio.gather(*(s.open() for s in students))
        try:
            presses = [1 + i % 4 for i in range(STUDENTS)]
            await asyncio.gather(*(press_times(s, "Step 100", n) for s, n in zip(students, presses)))
            return presses, [shown_step(s) for s in students], [worker_of(s) for s in students]
        finally:
            await asyncio.gather(*(s.close() for s in students))

    presses, steps, workers = run_async(lesson)
    assert steps == [100 * n for n in presses], "a student saw another student's training"
    assert set(workers) == {w.port for w in classroom.workers}, f"students went to {workers}"


@pytest.mark.classroom
def test_a_student_who_reconnects_lands_on_the_same_worker(classroom):
    async def visits() -> list[int]:
        async with Client(url(classroom)) as student:
            await student.press("Step 1")
            cookies, seen = dict(student.cookies), [worker_of(student)]
        for _ in range(3):
            async with Client(url(classroom), cookies=cookies) as again:
                await again.press("Step 1")
                assert shown_step(again) == 1
                seen.append(worker_of(again))
        return seen

    first, *later = run_async(visits)
    assert later == [first] * 3


# ------------------------------------------------------------------ a browser through the proxy
CSP_WATCH_JS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation',
  e => window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI} (${e.sourceFile}:${e.lineNumber})`));
"""
UPLOAD_CSV = "x1,x2,label\n" + "\n".join(f"{i % 7},{(i * 3) % 5},{int(i % 7 > 3)}" for i in range(60)) + "\n"


@pytest.fixture
def proxied_page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    tab.add_init_script(CSP_WATCH_JS)
    console: list[str] = []
    tab.on("console", lambda m: console.append(m.text) if "Content Security Policy" in m.text else None)
    tab.csp_console = console
    try:
        yield tab
    finally:
        context.close()


def csp_violations(page) -> list[str]:
    return page.evaluate("window.__cspViolations") + page.csp_console


@pytest.mark.browser
@pytest.mark.classroom
def test_every_page_works_under_the_csp(classroom, proxied_page, artifacts):
    page = proxied_page
    pages = app_pages()
    assert len(pages) > 5
    for path in pages:
        response = page.goto(url(classroom, f"/{path}"))
        for name, value in security_headers().items():
            assert response.headers.get(name.lower()) == value, (path, name)
        page.wait_for_selector(APP_IDLE)
        if path != "teach":  # the Teach page draws no chart until a class starts
            page.wait_for_function(ALL_CHARTS_DRAWN_JS)
        assert_no_exception(page)
        page.wait_for_timeout(500)
        assert csp_violations(page) == [], path
    page.screenshot(path=str(artifacts / "classroom-compare.png"))


@pytest.mark.browser
@pytest.mark.classroom
def test_step_play_upload_and_download_through_the_proxy(classroom, proxied_page, artifacts, tmp_path):
    page = proxied_page
    open_app(page, url(classroom))
    main = page.get_by_test_id("stMainBlockContainer")
    click_and_wait(page, main.get_by_role("button", name="Step 100", exact=True))
    assert playground_step(page) == 100

    main.get_by_role("button", name="Play", exact=True).click()
    pause = main.get_by_role("button", name="Pause", exact=True)
    pause.wait_for()
    deadline = time.monotonic() + 30
    while playground_step(page) <= 100 and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    pause.click()
    main.get_by_role("button", name="Play", exact=True).wait_for(timeout=30_000)
    page.wait_for_selector(APP_IDLE)
    played = playground_step(page)
    assert played > 100

    sidebar = page.get_by_test_id("stSidebar")
    click_and_wait(page, sidebar.get_by_text("Data details", exact=True))
    upload = tmp_path / "class.csv"
    upload.write_text(UPLOAD_CSV)
    before = page.evaluate("window.__symbreakRuns")
    sidebar.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(upload))
    page.wait_for_function("(n) => window.__symbreakRuns > n", arg=before)
    page.wait_for_selector(APP_IDLE)
    page.wait_for_function(ALL_CHARTS_DRAWN_JS)
    assert_no_exception(page)
    page.get_by_text("class.csv").first.wait_for()
    assert playground_step(page) == 0, "the uploaded data starts a new run"
    click_and_wait(page, main.get_by_role("button", name="Step 100", exact=True))

    click_and_wait(page, page.get_by_text("Download", exact=True))
    with page.expect_download() as download:
        page.get_by_role("button", name="History (CSV)").click()
    saved = tmp_path / "history.csv"
    download.value.save_as(saved)
    rows = saved.read_text().splitlines()
    assert rows[0].startswith("step") and len(rows) > 100, rows[:3]
    assert csp_violations(page) == []
    page.screenshot(path=str(artifacts / "classroom-upload.png"))


# ------------------------------------------------------------------ last: a worker dies
@pytest.mark.classroom
def test_a_dead_worker_is_restarted_while_the_others_go_on(classroom):
    """Kill one worker: its neighbours' next press works, new students go to the live worker, and a student of
    the dead one who loads the page again gets a fresh session there; then the watchdog has the worker back."""
    ports = [w.port for w in classroom.workers]

    async def lesson() -> None:
        students = []
        while {worker_of(s) for s in students} != set(ports):
            students.append(Client(url(classroom)))
            await students[-1].open()
        try:
            await asyncio.gather(*(s.press("Step 100") for s in students))
            dead = classroom.workers[0]
            dead.process.kill()
            dead.process.wait()
            survivors = [s for s in students if worker_of(s) != dead.port]
            await asyncio.gather(*(s.press("Step 100") for s in survivors))
            assert [shown_step(s) for s in survivors] == [200] * len(survivors)

            newcomers = [Client(url(classroom)) for _ in range(3)]
            await asyncio.gather(*(s.open() for s in newcomers))
            assert {worker_of(s) for s in newcomers} == {ports[1]}, "a new student was sent to the dead worker"
            orphan = next(s for s in students if worker_of(s) == dead.port)
            async with Client(url(classroom), cookies=orphan.cookies) as reloaded:
                assert worker_of(reloaded) == ports[1] and shown_step(reloaded) == 0
                await reloaded.press("Step 1")
                assert shown_step(reloaded) == 1
            await asyncio.gather(*(s.close() for s in newcomers))
        finally:
            await asyncio.gather(*(s.close() for s in students), return_exceptions=True)

    run_async(lesson)
    deadline = time.monotonic() + RESTART_SECONDS
    while not serve.healthy(ports[0]) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert classroom.workers[0].restarts == 1 and serve.healthy(ports[0]), "the watchdog did not restart the worker"
    # nginx tries it again once the fail_timeout after its last refused connection has passed.
    seen: set[int | None] = set()
    while seen != set(ports) and time.monotonic() < deadline:
        seen |= {get(classroom)[2] for _ in range(4)}
        time.sleep(0.5)
    assert seen == set(ports), "the restarted worker got no new students"
