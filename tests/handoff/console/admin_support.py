"""The whole app served on 127.0.0.1 for the supervisor pages, on a chosen database, with tiny NLP data."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import web

from bot.app import create_app
from bot.channels.memory import MemoryChannel
from bot.config import Settings
from bot.demo import DEMO_DIRECTORY
from bot.directory import DatabaseDirectory, import_records
from handoff.auth import create_user
from models import ChannelKind, UserRole
from nlp.dataset import read_examples
from nlp.model import TrainConfig, train
from nlp.store import ModelStore
from tests.conftest import ScriptedClassifier
from tests.handoff.console.conftest import PASSWORD, Served

DATA = Path(__file__).parent / "data"
TINY_TRAIN = DATA / "tiny-train.csv"
TINY_TEST = DATA / "tiny-test.csv"


def seed_model(model_dir: Path) -> str:
    """Activate a model trained on the tiny file, so a retrain compares like with like (and fast)."""
    texts, labels = read_examples(TINY_TRAIN)
    store = ModelStore(model_dir)
    version = store.save(train(texts, labels, TrainConfig()).model, note="seed")
    store.activate(version)
    return version


@asynccontextmanager
async def serve(tmp_path: Path, *, database_url: str = "") -> AsyncIterator[Served]:
    channel = MemoryChannel(kind=ChannelKind.TELEGRAM)
    settings = Settings(data_dir=tmp_path, database_url=database_url, nlp_train_data=TINY_TRAIN,
                        nlp_test_data=TINY_TEST)
    app = create_app(settings, channels=[channel], classifier=ScriptedClassifier(), directory=DatabaseDirectory(),
                     scheduler=False)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    await import_records(DEMO_DIRECTORY)
    users = [
        await create_user(email=email, role=role, password=PASSWORD, name=name)
        for email, role, name in (
            ("ana@cc.test", UserRole.AGENT, "Ana Agen"),
            ("bayu@cc.test", UserRole.AGENT, "Bayu Agen"),
            ("sari@cc.test", UserRole.SUPERVISOR, "Sari Supervisor"),
        )
    ]
    try:
        yield Served(app, f"http://127.0.0.1:{port}", channel, *users, tmp=tmp_path)
    finally:
        await runner.cleanup()
