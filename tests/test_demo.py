"""The README's demo works as documented: the bundled list finds the four listed photos in the sample."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

from scanhelp import cli, records

ROOT = Path(__file__).parent.parent


def test_readme_demo_finds_the_listed_photos(tmp_path: Path) -> None:
    identity = tmp_path / "demo-identity.txt"  # a private copy: git checkouts leave the demo key 0644
    shutil.copy(ROOT / "hashlists" / "demo-identity.txt", identity)
    identity.chmod(stat.S_IRUSR | stat.S_IWUSR)
    code, out, err = cli(
        "scan", str(ROOT / "examples" / "sample"), "--list", str(ROOT / "hashlists" / "demo.libra"),
        "--identity", str(identity), "--publisher-key", str(ROOT / "hashlists" / "demo-publisher.key.pub"), "-w", "1",
    )  # fmt: skip
    assert code == 1, err
    doc = json.loads(out)
    found = {os.path.basename(f["location"]): {m["method"] for m in f["matches"]} for f in records(doc)}
    assert found == {
        "IMG_2041.jpg": {"exact", "perceptual"},  # an exact copy
        "notes.txt": {"exact", "perceptual"},  # a JPEG renamed .txt
        "launch_small.jpg": {"perceptual"},  # resized and re-encoded
        "cat_flipped.png": {"perceptual"},  # mirrored, as PNG
    }
    # the list names each row's variant, so the findings say truly how each file relates to the listed photo
    transforms = {
        os.path.basename(f["location"]): {m["transform"] for m in f["matches"] if m["method"] == "perceptual"}
        for f in records(doc)
    }
    assert transforms == {
        "IMG_2041.jpg": {"original"},
        "notes.txt": {"original"},
        "launch_small.jpg": {"original"},
        "cat_flipped.png": {"mirror"},
    }
    assert all(m["list_variant"] for f in records(doc) for m in f["matches"] if m["method"] == "perceptual")
    assert [os.path.basename(e["location"]) for e in records(doc, "error", "warning")] == ["broken.jpg"]
    assert doc["summary"]["files"] == 10 and doc["lists"][0]["name"] == "libra demo list"
