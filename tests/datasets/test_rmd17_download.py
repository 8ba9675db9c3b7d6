"""rMD17 files missing locally are fetched from a mirror with pinned checksums (local server only)."""

import functools
import http.server
import shutil
import threading

import pytest
from symzoo.datasets.atoms import find_data

import symzoo
from symzoo.errors import SymzooError
from symzoo.paths import sha256_file


@pytest.fixture()
def mirror(tmp_path):
    src = find_data("rmd17/rmd17_ethanol_train_01.npz").parent
    served = tmp_path / "mirror"
    served.mkdir()
    sums = {}
    for part in ("train", "test"):  # ethanol's files stand in for a molecule that is not on disk
        dst = served / f"rmd17_benzene_{part}_01.npz"
        shutil.copyfile(src / f"rmd17_ethanol_{part}_01.npz", dst)
        sums[part] = sha256_file(dst)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", sums
    server.shutdown()


def test_download_with_pinned_checksums(mirror, tmp_path, monkeypatch):
    monkeypatch.setenv("SYMZOO_HOME", str(tmp_path / "home"))
    url, sums = mirror
    task = symzoo.get_task("rmd17-benzene", url=url, sha256=sums)
    train, val, test = task.splits("tiny")
    assert len(train) == 20 and len(test) == 20
    cached = tmp_path / "home" / "datasets" / "rmd17"
    assert sorted(p.name for p in cached.iterdir()) == [
        "rmd17_benzene_test_01.npz",
        "rmd17_benzene_train_01.npz",
    ]
    # found in the cache the second time, even without a mirror
    assert len(symzoo.get_task("rmd17-benzene").splits("tiny")[0]) == 20


def test_wrong_checksum_or_none_is_refused(mirror, tmp_path, monkeypatch):
    monkeypatch.setenv("SYMZOO_HOME", str(tmp_path / "home"))
    url, sums = mirror
    with pytest.raises(SymzooError, match="sha256 mismatch"):
        symzoo.get_task("rmd17-benzene", url=url, sha256={"train": "0" * 64, "test": sums["test"]}).splits(
            "tiny"
        )
    assert not list((tmp_path / "home").rglob("*.npz")) and not list((tmp_path / "home").rglob("*.partial"))
    # no checksum: no download; the not-found message lists the folders and the layouts
    with pytest.raises(SymzooError, match="not found") as e:
        symzoo.get_task("rmd17-benzene", url=url).splits("tiny")
    msg = str(e.value)
    assert "\n" not in msg and str(tmp_path / "home" / "datasets") in msg
    assert "rmd17/rmd17_benzene_{train,test}_01.npz" in msg and "rmd17/npz_data/rmd17_benzene.npz" in msg
    assert "sha256.train" in msg
    assert not list((tmp_path / "home").rglob("*.npz"))
    monkeypatch.setenv("SYMZOO_OFFLINE", "1")
    with pytest.raises(SymzooError, match="offline"):
        symzoo.get_task("rmd17-benzene", url=url, sha256=sums).splits("tiny")
