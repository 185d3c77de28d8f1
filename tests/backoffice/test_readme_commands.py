"""backoffice/README.md: its example commands work as written, in order — a reviewer added
by the first ones can log in to the console that the last one (`backoffice serve`) serves."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from backoffice_testkit import console_client

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "backoffice" / "README.md"
PASSWORD = "readme-pass-1"


def readme_commands() -> list[str]:
    block = re.search(r"```sh\n(.*?)```", README.read_text(encoding="utf-8"), re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.timeout(120)
def test_readme_sequence_then_login(tmp_path):
    commands = readme_commands()
    serve = commands.pop()
    assert serve.startswith("backoffice serve ") and "--port 8400" in serve
    assert commands[0].startswith("export BACKOFFICE_DATA_DIR=")
    # "from the repository root": the catalogue and docs folders the commands name
    (tmp_path / "flows").symlink_to(ROOT / "flows")
    (tmp_path / "docs").mkdir()
    env = {k: v for k, v in os.environ.items() if k != "BACKOFFICE_DATA_DIR"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    for command in commands[1:]:
        done = subprocess.run(["bash", "-c", f"{commands[0]}\n{command}"], cwd=tmp_path, env=env,
                              input=f"{PASSWORD}\n{PASSWORD}\n", capture_output=True,
                              text=True, timeout=60, start_new_session=True)
        assert done.returncode == 0, (command, done.stdout, done.stderr[-2000:])
    assert (tmp_path / "backoffice-data" / "backoffice.db").is_file()

    port = free_port()
    script = f"{commands[0]}\nexec {serve.replace('8400', str(port))}"
    server = subprocess.Popen(["bash", "-c", script], cwd=tmp_path, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/console/login", timeout=5)
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, server.stderr.read()
                time.sleep(0.2)
        client = console_client(url, "alice", PASSWORD)      # asserts the login worked
        assert client.get("/console/cases").status_code == 200
        client.close()
    finally:
        os.killpg(server.pid, signal.SIGINT)       # Ctrl+C, as the README says
        server.wait(20)
