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


BACKOFFICE_ENGINES = ("sqlite", "postgresql")


@pytest.fixture(scope="session", params=BACKOFFICE_ENGINES)
def db_engine(request) -> str:
    """The back office's database engine of this run: every test using it runs on both.
    A module that only needs one writes
    `pytestmark = pytest.mark.parametrize("db_engine", ["sqlite"], indirect=True)`."""
    return request.param


@pytest.fixture(scope="session")
def backoffice_settings(db_engine, request):
    """Factory: `Settings.for_data_dir(data_dir, **overrides)` on this run's engine. On
    PostgreSQL each data directory gets a database of its own in the private cluster (the same
    directory, the same database: two servers on one data dir share it). The database has the
    current schema (backoffice/schema.py's migrations)."""
    from backoffice import schema
    from backoffice.settings import Settings
    cluster = request.getfixturevalue("postgres_cluster") if db_engine == "postgresql" else None

    def make(data_dir, **overrides) -> Settings:
        data_dir = Path(data_dir).resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        if cluster is not None:
            overrides.setdefault("database_url", cluster.database_for(data_dir))
        else:
            overrides.setdefault("database_url", f"sqlite:///{data_dir / 'backoffice.db'}")
        settings = Settings.for_data_dir(data_dir, **overrides)
        schema.upgrade(settings.database_url)
        return settings

    return make
