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
