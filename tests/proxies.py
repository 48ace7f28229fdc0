"""Real nginx and Caddy, running the example configurations the repository ships in deploy/.

Only what a test machine needs is rewritten: the listen addresses become
loopback ports, the certificates are test ones, and the gateway's port is
the test's. Every location, route and header line runs verbatim. Both are
reached over IPv6 loopback (``[::1]``) and reach the gateway over IPv4.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

from certs import self_signed

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


def nginx_binary() -> str:
    found = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(found).exists():
        raise RuntimeError("nginx is missing: scripts/install-system-deps installs it")
    return found


def site_config(gateway_port: int, http_port: int, https_port: int, cert: Path, key: Path) -> str:
    """The shipped server blocks, listening on [::1] and 127.0.0.1 test ports."""
    text = (DEPLOY / "nginx.conf").read_text()
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


class ReverseProxy:
    """A proxy child process in ``directory``, in front of the gateway on ``gateway_port``."""

    name = "proxy"

    def __init__(self, directory: Path, gateway_port: int) -> None:
        self.directory = directory
        self.gateway_port = gateway_port
        self.http_port = _free_port()
        self.https_port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> tuple[list[str], dict[str, str] | None]:
        """Write the configuration; return the command line and environment to run."""
        raise NotImplementedError

    def start(self, timeout: float = 10) -> "ReverseProxy":
        self.directory.mkdir(parents=True, exist_ok=True)
        args, env = self.command()
        log = (self.directory / f"{self.name}.out").open("wb")
        self.process = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                socket.create_connection(("::1", self.https_port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} did not start: {(self.directory / f'{self.name}.out').read_text()}")

    @property
    def url(self) -> str:
        """The page through the proxy, over TLS, on IPv6 loopback."""
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


class Nginx(ReverseProxy):
    name = "nginx"

    def command(self) -> tuple[list[str], dict[str, str] | None]:
        root = self.directory
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
        return [nginx_binary(), "-p", str(root), "-c", str(root / "nginx.conf")], None


def caddyfile(gateway_port: int, http_port: int, https_port: int, storage: Path) -> str:
    """The shipped Caddyfile on test ports, with a certificate from Caddy's own local CA."""
    text = (DEPLOY / "Caddyfile").read_text()
    assert text.count("chat.example.org {") == 1 and text.count("reverse_proxy 127.0.0.1:8080") == 1
    text = text.replace("chat.example.org {", f"https://localhost:{https_port}, https://[::1]:{https_port} {{")
    text = text.replace("reverse_proxy 127.0.0.1:8080", f"reverse_proxy 127.0.0.1:{gateway_port}")
    options = f"""{{
    admin off
    skip_install_trust
    local_certs
    default_sni localhost
    http_port {http_port}
    https_port {https_port}
    storage file_system {storage}
}}
"""
    return options + text


class Caddy(ReverseProxy):
    name = "caddy"

    def command(self) -> tuple[list[str], dict[str, str] | None]:
        root = self.directory
        binary = shutil.which("caddy")
        if binary is None:
            raise RuntimeError("caddy is missing: scripts/install-system-deps installs it")
        config = root / "Caddyfile"
        config.write_text(caddyfile(self.gateway_port, self.http_port, self.https_port, root / "storage"))
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(root),
               "XDG_DATA_HOME": str(root / "data"), "XDG_CONFIG_HOME": str(root / "config")}
        return [binary, "run", "--config", str(config), "--adapter", "caddyfile"], env


def _free_port() -> int:
    with socket.socket(socket.AF_INET6) as sock:
        sock.bind(("::", 0))
        return int(sock.getsockname()[1])
