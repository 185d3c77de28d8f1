"""The soak's network relay (benchmarks/soak_link.py): it relays, it answers 503 when told,
and when its soak goes away (stdin closed) with a connection still open it ends quietly."""
import socket
import subprocess
import sys
import threading
from pathlib import Path

from tests.kit.terminal_processes import free_port

REPO = Path(__file__).resolve().parents[2]


def _echo_server() -> tuple[socket.socket, int]:
    server = socket.create_server(("127.0.0.1", 0))

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=lambda c=conn: [c.sendall(d) for d in iter(
                lambda: c.recv(4096), b"")], daemon=True).start()
    threading.Thread(target=serve, daemon=True).start()
    return server, server.getsockname()[1]


def test_relays_refuses_when_told_and_ends_quietly_with_a_connection_open(tmp_path):
    server, target = _echo_server()
    port = free_port()
    relay = subprocess.Popen([sys.executable, str(REPO / "benchmarks" / "soak_link.py"),
                              str(port), f"127.0.0.1:{target}"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert relay.stdout.readline().strip() == "ok"
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            c.sendall(b"hello")
            assert c.recv(16) == b"hello"
        relay.stdin.write("status 503 1\n")
        relay.stdin.flush()
        assert relay.stdout.readline().strip() == "ok"
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            c.sendall(b"POST /x HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi")
            assert c.recv(64).startswith(b"HTTP/1.1 503 Service Unavailable")
        held = socket.create_connection(("127.0.0.1", port), timeout=5)   # left open
        held.sendall(b"still here")
        assert held.recv(16) == b"still here"
        relay.stdin.close()                     # the soak is gone
        assert relay.wait(10) == 0
        err = relay.stderr.read()
        assert "Traceback" not in err and "Exception" not in err, err
        held.close()
    finally:
        relay.kill()
        server.close()
