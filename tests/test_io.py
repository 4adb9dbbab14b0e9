"""centernet_keras.io: atomic writes."""

import os
import stat

import pytest

from centernet_keras.io import atomic_write_text


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_write_uses_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        atomic_write_text(tmp_path / "new.txt", "a\n")
    finally:
        os.umask(old)
    assert (tmp_path / "new.txt").read_text() == "a\n"
    assert stat.S_IMODE((tmp_path / "new.txt").stat().st_mode) == mode
    assert [p.name for p in tmp_path.iterdir()] == ["new.txt"]  # no temporary file left


def test_atomic_write_keeps_the_mode_of_a_replaced_file(tmp_path):
    path = tmp_path / "old.txt"
    path.write_text("old\n")
    path.chmod(0o640)
    atomic_write_text(path, "new\n")
    assert path.read_text() == "new\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_atomic_path_renames_on_success_and_removes_on_failure(tmp_path):
    from centernet_keras.io import atomic_path, is_temp_file

    out = tmp_path / "m.weights.h5"
    with atomic_path(out) as tmp:
        assert tmp.parent == tmp_path and is_temp_file(tmp) and not is_temp_file(out)
        assert tmp.name.endswith(".weights.h5")  # writers that check the suffix accept it
        tmp.write_bytes(b"new")
    assert out.read_bytes() == b"new"
    with pytest.raises(KeyboardInterrupt), atomic_path(out) as tmp:
        tmp.write_bytes(b"half")
        raise KeyboardInterrupt
    assert out.read_bytes() == b"new" and [p.name for p in tmp_path.iterdir()] == [out.name]
    with atomic_path(tmp_path / "never.txt"):
        pass  # the writer wrote nothing: nothing appears
    assert [p.name for p in tmp_path.iterdir()] == [out.name]


def test_atomic_path_replaces_a_folder(tmp_path):
    from centernet_keras.io import atomic_path

    out = tmp_path / "saved_model"
    out.mkdir()
    (out / "old.pb").write_bytes(b"old")
    with atomic_path(out) as tmp:
        tmp.mkdir()
        (tmp / "new.pb").write_bytes(b"new")
    assert [p.name for p in out.iterdir()] == ["new.pb"]
    assert [p.name for p in tmp_path.iterdir()] == ["saved_model"]
