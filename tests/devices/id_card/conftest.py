"""Fixtures of the ID-card reader tests: the packaged scenario (built once) and emulators."""
import pytest

from devices.assets import FACES_DIR
from devices.id_card.emulator import EmulatorServer
from devices.id_card.scenario import load_scenario


@pytest.fixture(scope="session")
def scenario():
    return load_scenario(faces_dir=FACES_DIR)


@pytest.fixture(params=["pty", "tcp"])
def emulator(request, scenario):
    """(server, url) of a running emulator with the scenario's initial card on it."""
    server = EmulatorServer(scenario)
    if request.param == "pty":
        url = "idcard+serial://" + server.start_pty()
    else:
        host, port = server.start_tcp()
        url = f"idcard+serial://socket://{host}:{port}"
    yield server, url
    server.stop()
