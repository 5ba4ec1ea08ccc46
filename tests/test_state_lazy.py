"""A rescan whose files are all answered by the state starts no hash engine (``lazyengine.py``)."""

from __future__ import annotations

from pathlib import Path

from libra_cli.engine import EngineOptions, make_engine
from libra_cli.engine.base import Engine
from libra_cli.models import HashConfig, HashResult, MediaRef
from libra_cli.pipeline import Filter, MatchStage, Pipeline
from libra_cli.sinks import Sink
from libra_cli.storage import Source, WalkOptions

PHOTOS = Path(__file__).parent / "data" / "photos"
CONFIG = HashConfig(digests=("md5",), perceptual=())


class Known(Filter):
    """Answers every file whose name is in ``names`` (as the state does for unchanged files)."""

    def __init__(self, names: set[str]) -> None:
        self.names = names

    def check(self, ref: MediaRef) -> HashResult | None:
        return HashResult(ref, None, {"md5": b"\0" * 16}) if Path(ref.uri).name in self.names else None


class Collect(Sink):
    def __init__(self) -> None:
        self.seen: list[str] = []

    def result(self, result: HashResult, matches: object) -> None:
        self.seen.append(Path(result.ref.uri).name)


def run(names: set[str]) -> tuple[list[Engine], list[str]]:
    made: list[Engine] = []

    def factory() -> Engine:
        made.append(make_engine("inprocess", CONFIG, EngineOptions()))
        return made[-1]

    sink = Collect()
    source = Source([str(PHOTOS)], WalkOptions(), CONFIG.storage)
    Pipeline(source, factory, MatchStage(None, CONFIG), [sink], filter=Known(names)).run()
    return made, sorted(sink.seen)


def test_no_engine_when_every_file_is_known_and_one_when_a_file_needs_hashing() -> None:
    every = {p.name for p in PHOTOS.iterdir() if p.is_file()}
    made, seen = run(every)
    assert made == [] and seen == sorted(every)
    made, seen = run(every - {"moon.jpg"})
    assert len(made) == 1 and seen == sorted(every)
