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


def cluster_config(root: Path, nodes: list[tuple[int, int]], http_port: int, https_port: int, chat_port: int,
                   cert: Path, key: Path) -> str:
    """deploy/nginx-cluster.conf on test ports and paths: ``nodes`` are (chat port, web port) on 127.0.0.1."""
    text = (DEPLOY / "nginx-cluster.conf").read_text()
    text = re.sub(r"listen \[::\]:80;", f"listen [::1]:{http_port};", text)
    text = re.sub(r"listen 80;", f"listen 127.0.0.1:{http_port};", text)
    text = re.sub(r"listen \[::\]:443 ssl;", f"listen [::1]:{https_port} ssl;", text)
    text = re.sub(r"listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;", text)
    text = re.sub(r"listen \[::\]:6666 ", f"listen [::1]:{chat_port} ", text)
    text = re.sub(r"listen 6666 ", f"listen 127.0.0.1:{chat_port} ", text)
    text = re.sub(r"ssl_certificate (\s*)\S+;", f"ssl_certificate \\1{cert};", text)
    text = re.sub(r"ssl_certificate_key (\s*)\S+;", f"ssl_certificate_key \\1{key};", text)
    text = text.replace("server_name chat.example.org;", "server_name localhost;")
    for i, (chat, web) in enumerate(nodes):
        for port, node_port in ((8080, web), (6666, chat)):
            upstream = f"server 10.0.0.{11 + i}:{port} "
            assert text.count(upstream) == 1, f"the shipped config should name node {i + 1}'s port {port} once"
            text = text.replace(upstream, f"server 127.0.0.1:{node_port} ")
    assert "10.0.0.1" not in "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#"))
    # Where this nginx keeps its files: in the test's folder, not /run and /var.
    for directive in ("pid", "error_log", "access_log"):
        assert len(re.findall(rf"^\s*{directive} /\S+;", text, re.MULTILINE)) == 1, directive
    text = re.sub(r"^(\s*)pid /\S+;", f"\\1pid {root}/nginx.pid;", text, flags=re.MULTILINE)
    text = re.sub(r"^(\s*)error_log /\S+;", f"\\1error_log {root}/error.log info;", text, flags=re.MULTILINE)
    temp = "".join(f"    {kind}_temp_path {root}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    text = re.sub(r"^(\s*)access_log /\S+;\n", f"\\1access_log {root}/access.log;\n{temp}", text, flags=re.MULTILINE)
    return text


class NginxCluster(ReverseProxy):
    """nginx running deploy/nginx-cluster.conf in front of several nodes (``nodes``: (chat port, web port))."""

    name = "nginx"

    def __init__(self, directory: Path, nodes: list[tuple[int, int]]) -> None:
        super().__init__(directory, 0)
        self.nodes = nodes
        self.chat_port = _free_port()

    def command(self) -> tuple[list[str], dict[str, str] | None]:
        root = self.directory
        cert, key = self_signed(root)
        config = root / "nginx.conf"
        config.write_text(cluster_config(root, self.nodes, self.http_port, self.https_port, self.chat_port, cert, key))
        return [nginx_binary(), "-p", str(root), "-c", str(config), "-g", "daemon off; master_process off;"], None
