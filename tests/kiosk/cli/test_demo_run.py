"""`./dev run` (`kiosk run --demo`) as a newcomer meets it: what it prints at start really works
(the screenshot command, the console URL and its reviewer login), and the demo's temporary
folder is gone once it stops, whether by Ctrl+C in the terminal, SIGTERM, or being killed."""
from __future__ import annotations

import contextlib
import os
import queue
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PIL import Image, ImageStat

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tests" / "backoffice"))   # importlib mode: the console login
from backoffice_testkit import console_client  # noqa: E402

BANNER_END = "technician PIN"


class Demo:
    """The demo as a subprocess in a session of its own, with its start banner parsed."""

    def __init__(self, argv: list[str], temp: Path, **env: str):
        environ = {k: v for k, v in os.environ.items() if k not in env or env[k] is not None}
        environ.update({k: v for k, v in env.items() if v is not None})
        environ["TMPDIR"] = str(temp)
        self.stderr_path = temp.parent / "demo.stderr"
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=environ, text=True,
                                     stdout=subprocess.PIPE, stderr=self.stderr_path.open("w"),
                                     start_new_session=True)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        self.banner = self._banner(timeout=90)

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def _banner(self, timeout: float) -> str:
        got, deadline = [], time.monotonic() + timeout
        while not got or BANNER_END not in got[-1]:
            try:
                got.append(self.lines.get(timeout=max(0.1, deadline - time.monotonic())))
            except queue.Empty:
                os.killpg(self.proc.pid, signal.SIGTERM)     # ./dev passes it on
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(30)
                pytest.fail(f"no start banner: {got} {self.stderr()[-2000:]}")
        return "\n".join(got)

    def field(self, pattern: str) -> str:
        found = re.search(pattern, self.banner)
        assert found, (pattern, self.banner)
        return found.group(1)

    @property
    def folder(self) -> Path:
        return Path(self.field(r"temporary folder (\S+) is removed"))

    @property
    def pid(self) -> int:
        return int(self.field(r"kill -TERM (\d+)"))

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def __enter__(self) -> "Demo":
        return self

    def __exit__(self, *_exc) -> None:
        """A failed test still stops the demo (./dev passes SIGTERM on to the kiosk)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(30)

    def stop(self, sig: int, group: bool = False, timeout: float = 45) -> int:
        if group:                     # Ctrl+C: the terminal signals the foreground group
            os.killpg(self.proc.pid, sig)
        else:
            os.kill(self.pid, sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.pid, signal.SIGUSR2)        # the kiosk writes where its threads are
            time.sleep(2)
            os.kill(self.pid, signal.SIGKILL)
            os.killpg(self.proc.pid, signal.SIGTERM)
            alive = subprocess.run(["ps", "-o", "pid,stat,args", "-g", str(self.proc.pid)],
                                   capture_output=True, text=True).stdout
            pytest.fail(f"still running {timeout} s after signal {sig}:\n{alive}\n"
                        f"{self.stderr()[-6000:]}")


def screenshot(command: str, out: Path, timeout: float = 60) -> Image.Image:
    """Run the printed screenshot command until the app has drawn something."""
    deadline = time.monotonic() + timeout
    while True:
        subprocess.run(["bash", "-c", command.replace("demo.png", shlex.quote(str(out)))],
                       cwd=ROOT, check=True, capture_output=True, timeout=60)
        image = Image.open(out)
        image.load()
        if max(ImageStat.Stat(image.convert("L")).stddev) > 10 or time.monotonic() > deadline:
            return image
        time.sleep(1)


def wait_gone(path: Path, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while path.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    return not path.exists()


@pytest.mark.timeout(180)
def test_dev_run_prints_what_works_and_ctrl_c_cleans_up(tmp_path):
    temp = tmp_path / "tmp"
    temp.mkdir()
    with Demo(["./dev", "run", "--no-voice"], temp, DISPLAY=None, XAUTHORITY=None,
              SDL_VIDEODRIVER=None, KIOSK_VIRTUAL_DISPLAY=None) as demo:
        assert demo.folder.is_dir() and demo.folder.parent == temp
        assert "virtual screen (Xvfb) that nobody can see" in demo.banner
        assert "./dev run --windowed" in demo.banner and "press Ctrl+C" in demo.banner

        # the screenshot command, as printed, run from the repository in another shell
        command = demo.field(r"\n\s+(DISPLAY=\S+.*\./dev screenshot \S+)")
        image = screenshot(command, tmp_path / "demo.png")
        assert image.size == (1280, 800)
        assert max(ImageStat.Stat(image.convert("L")).stddev) > 10, "the screenshot is blank"

        url = demo.field(r"console: (http://127\.0\.0\.1:\d+)/console")
        user, password = re.search(r"login:\s+reviewer (\S+), password (\S+)",
                                   demo.banner).groups()
        client = console_client(url, user, password)      # asserts the login worked
        assert client.get("/console/cases").status_code == 200
        client.close()

        assert demo.stop(signal.SIGINT, group=True) == 0, demo.stderr()[-3000:]
    assert "Traceback" not in demo.stderr()
    assert wait_gone(demo.folder)
    assert list(temp.iterdir()) == []     # nothing else left behind either


@pytest.mark.timeout(180)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_the_demo_folder_goes_however_the_demo_stops(tmp_path, sig):
    assert os.environ.get("DISPLAY"), "run under xvfb-run (./dev test)"
    temp = tmp_path / "tmp"
    temp.mkdir()
    with Demo([sys.executable, "-m", "kiosk.cli", "run", "--demo", "--no-voice"], temp) as demo:
        assert demo.folder.is_dir()
        if sig == signal.SIGTERM:       # an operator asks a running kiosk where it is
            os.kill(demo.pid, signal.SIGUSR2)
            deadline = time.monotonic() + 10
            while "Current thread" not in demo.stderr() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert re.search(r'run\.py", line \d+ in run', demo.stderr())
        code = demo.stop(sig)
    if sig == signal.SIGTERM:
        assert code == 0, demo.stderr()[-3000:]
        assert "Traceback" not in demo.stderr()
    assert wait_gone(demo.folder), list(demo.folder.rglob("*"))[:10]
