"""Plug-ins defined outside the package, as a third party would write them: a storage backend that
misbehaves on request, and a perceptual signal type. Each is added with one registry call.

Worker processes import this module by name (the engine passes plug-in modules to them), so the
behaviours below happen inside real workers: a crash is a real process death, a hang a real hang.

``test://files/NAME,NAME,...`` walks to one reference per name; what reading it does depends on the name:
``crash`` (the process dies), ``hang`` (sleeps for ever), ``slow`` (2 s), ``unreadable`` (StorageError),
``boom`` (an unexpected exception), ``lists`` (content says how many HashList objects this process
holds), ``forge`` (writes a forged pickle message to the parent, as a compromised decoder could),
``photo-NAME`` (the bytes of tests/data/photos/NAME). ``test://gen/N`` walks to N tiny references.
"""

from __future__ import annotations

import contextlib
import gc
import io
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, ClassVar

import numpy as np
from PIL import Image

from libra_cli import signals
from libra_cli.errors import StorageError
from libra_cli.hashers.base import Example, PerceptualHasher
from libra_cli.models import MediaRef, PerceptualHash
from libra_cli.storage import Storage, WalkItem, WalkOptions, register

PHOTOS = Path(__file__).parent / "data" / "photos"


def _lists_here() -> int:
    from libra_cli.hashlist.table import HashList

    return sum(isinstance(obj, HashList) for obj in gc.get_objects())


def _forge() -> bytes:
    """Send the parent a pickle (what an exploited worker could do) on every connection this process has."""
    import pickle
    from multiprocessing.connection import Connection

    payload = pickle.dumps(("R", 0, {"t": None}))
    for obj in gc.get_objects():
        if isinstance(obj, Connection):
            with contextlib.suppress(OSError):
                obj.send_bytes(payload)
    return b"forged"


class MisbehavingStorage(Storage):
    scheme = "test"

    def walk(self, target: str, options: WalkOptions) -> Iterator[WalkItem]:
        kind, _, rest = target.removeprefix("test://").partition("/")
        if kind == "gen":
            for i in range(int(rest)):
                yield MediaRef(f"test://files/n{i:07d}", 8, mtime_ns=0)
            return
        for name in rest.split(","):
            yield MediaRef(f"test://files/{name}", len(self._content(name, probe=True)), mtime_ns=0)

    def _content(self, name: str, probe: bool = False) -> bytes:
        if name.startswith("photo-"):
            return (PHOTOS / name.removeprefix("photo-")).read_bytes()
        if probe:
            return b"x" * 8
        if "crash" in name:
            os._exit(3)  # what a segfaulting decoder looks like from the parent
        if "hang" in name:
            while True:
                time.sleep(1)
        if "slow" in name:
            time.sleep(2)
        if "unreadable" in name:
            raise StorageError("permission denied (injected)")
        if "boom" in name:
            raise RuntimeError("backend bug")
        if name == "lists":
            return str(_lists_here()).encode().ljust(8)
        if name == "forge":
            return _forge().ljust(8)
        return name.encode()[:8].ljust(8)

    def open(self, ref: MediaRef) -> BinaryIO:
        return io.BytesIO(self._content(ref.uri.rsplit("/", 1)[1]))


register("test", MisbehavingStorage)


class MeanHasher(PerceptualHasher):
    """A toy 64-bit perceptual hash: 8x8 grey cells above or below the mean."""

    name: ClassVar[str] = "meanhash"

    def hash_image(self, img: Image.Image) -> list[PerceptualHash]:
        cells = np.asarray(img.convert("L").resize((8, 8), Image.Resampling.BOX), dtype=np.float64).ravel()
        mean = cells.mean()
        bits = "".join("1" if c > mean else "0" for c in cells)
        return [PerceptualHash(self.name, f"{int(bits, 2):016x}")]

    def examples(self) -> list[Example]:
        return []


class MeanHash(signals.PerceptualSignal):
    name: ClassVar[str] = "meanhash"
    nbytes: ClassVar[int] = 8
    default_threshold: ClassVar[int] = 4

    def hasher(self) -> MeanHasher:
        return MeanHasher()


signals.register(MeanHash())
