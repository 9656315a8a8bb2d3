"""The sticky-session proxy of docs/cluster.md, exactly as the page documents it (the test reads its ``nginx``
block), served by Debian's nginx in a temporary folder in front of two real ``streamlit run app.py`` replicas:
through it the page loads, Streamlit's websocket upgrades for a browser that reaches the proxy by a name and port
of its own, one browser's requests all reach one replica, and new browsers from one address are spread over both
(a class behind one NAT is not pinned to one replica)."""

from __future__ import annotations

import base64
import contextlib
import http.client
import os
import re
import shutil
import socket
import subprocess
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.browser import CHROMIUM, CHROMIUM_ARGS, ROOT, start_server, stop_server
from tests.raycluster import free_port

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
# In the browser tests' group (pytest -n): one process starts the replicas and the proxy once for all three tests.
pytestmark = [pytest.mark.browser, pytest.mark.skipif(not os.path.exists(NGINX),
                                                      reason="nginx is not installed (Debian: apt install nginx)")]

DOC = ROOT / "docs" / "cluster.md"
NAME = "augviz.test"  # the name a browser reaches the proxy by (sent as Host; nginx answers any name)


def documented_config() -> str:
    """The one ``nginx`` block of docs/cluster.md, as a reader copies it."""
    blocks = re.findall(r"^( *)```nginx\n(.*?)^\1```", DOC.read_text(), re.S | re.M)
    assert len(blocks) == 1, "docs/cluster.md should hold exactly one nginx configuration"
    return textwrap.dedent(blocks[0][1])


def for_this_machine(config: str, replicas: list[str], port: int) -> str:
    """The documented configuration with only its addresses changed: the upstream's servers are the test's
    replicas, and it listens on a free loopback port."""
    servers = re.findall(r"^( *)server \S+:\d+;\n", config, re.M)
    assert len(servers) == 2, "the documented upstream should list two replicas"
    indent = servers[0]
    config = re.sub(r"^ *server \S+:\d+;\n", "", config, flags=re.M)
    config = re.sub(r"^( *hash .*\n)", lambda m: m.group(1) + "".join(f"{indent}server {r};\n" for r in replicas),
                    config, count=1, flags=re.M)
    config, n = re.subn(r"listen 80;", f"listen 127.0.0.1:{port};", config)
    assert n == 1, "the documented server should listen on port 80"
    return config


@dataclass
class Proxy:
    port: int
    replicas: list[str]  # host:port of each replica behind it
    log: Path  # one line per request: the replica that answered it, then the request

    def logged(self) -> list[tuple[str, str]]:
        """(the replica that answered, the request line) of each request logged so far, in order."""
        lines = self.log.read_text().splitlines() if self.log.exists() else []
        return [tuple(line.split(" ", 1)) for line in lines]

    def replicas_seen(self, start: int, until: Callable[[list[tuple[str, str]]], bool]) -> list[str]:
        """The replica of each request logged after the first ``start``, once ``until`` holds for them (nginx
        logs a websocket when it closes, a moment after the client has gone)."""
        deadline = time.monotonic() + 30
        while not until(seen := self.logged()[start:]) and time.monotonic() < deadline:
            time.sleep(0.1)
        return [replica for replica, _ in seen]


@contextlib.contextmanager
def nginx(config: str, replicas: list[str], folder: Path) -> Iterator[Proxy]:
    """nginx with ``config`` in its http block, everything it writes in ``folder``; stopped on leaving."""
    port = free_port()
    folder.chmod(0o777)  # its workers run as nobody when the test runs as root
    (folder / "nginx.conf").write_text(f"""\
daemon off;
pid {folder}/nginx.pid;
error_log {folder}/error.log;
events {{}}
http {{
    log_format upstream '$upstream_addr $request';
    access_log {folder}/access.log upstream;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
{textwrap.indent(for_this_machine(config, replicas, port), "    ")}
}}
""")
    with open(folder / "nginx.out", "w") as out:
        proc = subprocess.Popen([NGINX, "-p", str(folder), "-e", f"{folder}/error.log", "-c", f"{folder}/nginx.conf"],
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                said = [f.read_text() for f in (folder / "nginx.out", folder / "error.log") if f.exists()]
                raise RuntimeError("nginx did not start:\n" + "".join(said))
            time.sleep(0.1)
        yield Proxy(port, replicas, folder / "access.log")
    finally:
        proc.terminate()  # nginx's fast shutdown: the master stops its workers
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def proxy(tmp_path_factory) -> Iterator[Proxy]:
    """Two replicas of the app sharing a cookie secret, as the doc says, and the documented proxy before them."""
    env = {"STREAMLIT_SERVER_COOKIE_SECRET": "the-same-long-random-text-on-every-replica"}
    servers = []
    try:
        for _ in range(2):
            servers.append(start_server(env))
        replicas = [url.removeprefix("http://") for _, url in servers]
        with nginx(documented_config(), replicas, tmp_path_factory.mktemp("nginx")) as running:
            yield running
    finally:
        for proc, _ in servers:
            stop_server(proc)


def get(proxy: Proxy, path: str, cookie: str | None = None) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=60)
    headers = {"Host": f"{NAME}:{proxy.port}", **({"Cookie": cookie} if cookie else {})}
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def websocket_status(proxy: Proxy, cookie: str) -> str:
    """The status line that answers a browser's websocket handshake for Streamlit's stream, as a browser at
    ``http://augviz.test:<port>/`` sends it (its Origin and Host name the proxy, not a replica)."""
    key = base64.b64encode(os.urandom(16)).decode()
    request = (f"GET /_stcore/stream HTTP/1.1\r\nHost: {NAME}:{proxy.port}\r\nOrigin: http://{NAME}:{proxy.port}\r\n"
               f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: streamlit\r\nCookie: {cookie}\r\n\r\n")
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=60) as s:
        s.sendall(request.encode())
        answer = b""
        while b"\r\n" not in answer:
            chunk = s.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer.split(b"\r\n", 1)[0].decode()


def test_a_browser_loads_the_page_upgrades_the_websocket_and_stays_with_one_replica(proxy):
    start = len(proxy.logged())
    page = get(proxy, "/")
    assert page.status == 200
    cookie = page.getheader("Set-Cookie", "").split(";")[0]
    assert cookie.startswith("augviz_replica=") and len(cookie) > len("augviz_replica=")

    later = [get(proxy, path, cookie) for path in ("/", "/_stcore/health", "/_stcore/host-config", "/train")]
    assert [r.status for r in later] == [200] * 4
    assert websocket_status(proxy, cookie) == "HTTP/1.1 101 Switching Protocols"

    seen = proxy.replicas_seen(start, lambda logged: len(logged) >= 6)
    assert len(seen) == 6 and seen[0] in proxy.replicas
    assert set(seen) == {seen[0]}, "every request of one browser should reach the replica of its first"


def test_new_browsers_from_one_address_are_spread_over_both_replicas(proxy):
    start = len(proxy.logged())
    for _ in range(30):  # each without a cookie: a new browser, all from this machine's one address
        assert get(proxy, "/_stcore/health").status == 200
    # Each new browser goes to either replica by its own random request id: all 30 on one is a 1 in 2**29 chance.
    assert set(proxy.replicas_seen(start, lambda logged: len(logged) >= 30)) == set(proxy.replicas)


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")
def test_a_real_browser_gets_the_app_through_the_proxy_from_one_replica(proxy):
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    start = len(proxy.logged())
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{proxy.port}/")
            page.locator("h1").first.wait_for(timeout=120_000)  # drawn from what came over the websocket
            page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(timeout=120_000)
            assert page.get_by_test_id("stException").count() == 0
            assert page.locator("[data-testid='stApp'][data-test-connection-state='CONNECTED']").count() == 1
        finally:
            browser.close()  # its websocket closes: nginx logs it
    seen = proxy.replicas_seen(start, lambda logged: any("/_stcore/stream" in r for _, r in logged))
    assert any("/_stcore/stream" in r for _, r in proxy.logged()[start:])
    assert len(seen) > 3 and len(set(seen)) == 1, "the page, its scripts and its websocket should reach one replica"
