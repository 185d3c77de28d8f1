"""Fixtures every test folder may use: a small catalogue on disk (tests/kit/mini_catalog), test cards,
and one private PostgreSQL cluster per test session (tests/kit/postgres.py)."""
import shutil
from pathlib import Path

import pytest

from flows.catalog import CATALOG_DIR, load_catalog
from tests.kit.cards import make_card  # noqa: F401  (re-exported for tests)

HERE = Path(__file__).resolve().parent


@pytest.fixture
def mini_root(tmp_path) -> Path:
    root = tmp_path / "catalog"
    shutil.copytree(HERE / "kit" / "mini_catalog", root)
    shutil.copy(CATALOG_DIR / "prompts.yaml", root / "prompts.yaml")
    return root


@pytest.fixture
def mini_catalog(mini_root):
    return load_catalog(mini_root)




@pytest.fixture(scope="session")
def postgres_cluster():
    """A throw-away PostgreSQL cluster, started once per session on first use, stopped at the end."""
    from tests.kit.postgres import PostgresCluster
    cluster = PostgresCluster()
    yield cluster
    cluster.stop()
