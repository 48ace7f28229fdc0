"""A real nginx, running the example configuration the repository ships in deploy/.

Only what a test machine needs is rewritten: the listen addresses become
loopback ports, the certificate paths point at a self-signed pair, and the
gateway's port is the test's. Every location and header line runs verbatim.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

from certs import self_signed

SHIPPED = Path(__file__).resolve().parent.parent / "deploy" / "nginx.conf"


def nginx_binary() -> str:
    found = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(found).exists():
        raise RuntimeError("nginx is missing: scripts/install-system-deps installs it")
    return found


def site_config(gateway_port: int, http_port: int, https_port: int, cert: Path, key: Path) -> str:
    """The shipped server blocks, listening on [::1] and 127.0.0.1 test ports."""
    text = SHIPPED.read_text()
    text = re.sub(r"listen \[::\]:80;", f"listen [::1]:{http_port};", text)
    text = re.sub(r"listen 80;", f"listen 127.0.0.1:{http_port};", text)
    text = re.sub(r"listen \[::\]:443 ssl;", f"listen [::1]:{https_port} ssl;", text)
    text = re.sub(r"listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;", text)
    text = re.sub(r"ssl_certificate (\s*)\S+;", f"ssl_certificate \\1{cert};", text)
    text = re.sub(r"ssl_certificate_key (\s*)\S+;", f"ssl_certificate_key \\1{key};", text)
    text = text.replace("server_name chat.example.org;", "server_name localhost;")
    proxy_pass = "proxy_pass http://127.0.0.1:8080/;"
    assert text.count(proxy_pass) == 1, "the shipped config should proxy to the gateway once"
    return text.replace(proxy_pass, f"proxy_pass http://127.0.0.1:{gateway_port}/;")


class Nginx:
    def __init__(self, directory: Path, gateway_port: int) -> None:
        self.directory = directory
        self.gateway_port = gateway_port
        self.http_port = _free_port()
        self.https_port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10) -> "Nginx":
        root = self.directory
        root.mkdir(parents=True, exist_ok=True)
        cert, key = self_signed(root)
        (root / "parley.conf").write_text(
            site_config(self.gateway_port, self.http_port, self.https_port, cert, key))
        (root / "nginx.conf").write_text(f"""
daemon off;
master_process off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {root}/access.log;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    include {root}/parley.conf;
}}
""")
        self.process = subprocess.Popen(
            [nginx_binary(), "-p", str(root), "-c", str(root / "nginx.conf")],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx failed: {self.process.stderr.read().decode() if self.process.stderr else ''}")
            try:
                socket.create_connection(("::1", self.https_port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("nginx did not start listening")

    @property
    def url(self) -> str:
        """The page through nginx, over TLS, on IPv6 loopback."""
        return f"https://[::1]:{self.https_port}/chat/"

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        if self.process.stderr:
            self.process.stderr.close()


def _free_port() -> int:
    with socket.socket(socket.AF_INET6) as sock:
        sock.bind(("::", 0))
        return int(sock.getsockname()[1])
