"""Ctrl-C during ``centernet train`` (issue 26, point 5): one line saying at which epoch the
run is saved and the command that resumes it, exit 130; before, a 40-line ``KeyboardInterrupt``
traceback. The command it prints resumes the run to its end, and ``--resume`` with another
``--epochs`` is refused naming the flag (``--epochs 9 (the run's: 6)``; before:
``epochs=6 ... epochs=9``). A Ctrl-C that Python drops (raised in a garbage-collector callback)
is raised again at the next batch (``training.interrupt.InterruptGuard``)."""

import json
import re
import shlex
import signal
import subprocess
import sys

import pytest
from conftest import config_dict
from helpers import INTERRUPT_LIMIT, ROOT, interrupt_when

CENTERNET = [sys.executable, "-m", "centernet_keras.console"]


def _centernet(command: str) -> subprocess.CompletedProcess:
    """Run a ``centernet ...`` command line as printed (in this interpreter)."""
    argv = shlex.split(command)
    assert argv[0] == "centernet", command
    return subprocess.run(
        [*CENTERNET, *argv[1:]], capture_output=True, text=True, timeout=INTERRUPT_LIMIT, cwd=ROOT
    )


@pytest.mark.slow
def test_ctrl_c_says_where_the_run_is_saved_and_how_to_resume(tiny_voc, tmp_path):
    save_dir = tmp_path / "run"
    settings = config_dict(tiny_voc, save_dir, epochs=6, freeze_epochs=0, steps_per_epoch=10)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({**settings, "val_annotations": None, "eval_every": 0}))
    state = save_dir / "train_state.json"

    command = [*CENTERNET, "train", "--config", str(config), "--quiet"]
    code, err = interrupt_when(command, state.exists)  # once the first epoch is committed
    assert code == 130, err[-3000:]
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-3000:]
    line = err.strip().splitlines()[-1]
    found = re.fullmatch(r"interrupted: the run in (.+) is saved at epoch (\d) of 6; resume "
                         r"with `(centernet train --resume --save-dir .+)`", line)  # fmt: skip
    assert found, line
    assert found[1] == str(save_dir)
    epoch = json.loads(state.read_text())["epoch"]
    assert int(found[2]) == epoch and 1 <= epoch < 6

    longer = _centernet(f"{found[3]} --epochs 9")  # the schedule spans 6: refused
    assert longer.returncode == 2, longer.stderr[-3000:]
    (refusal,) = [line for line in longer.stderr.splitlines() if line.startswith("error:")]
    assert "--epochs 9 (the run's: 6)" in refusal and "epochs=" not in refusal, refusal

    resumed = _centernet(found[3])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert json.loads(state.read_text())["epoch"] == 6


class _Dropper:
    """Sends SIGINT while being collected: Python raises the KeyboardInterrupt inside
    ``__del__``, which drops it ("Exception ignored in ..."), as a garbage-collector callback
    during ``model.fit`` does (JAX's ``_xla_gc_callback``: the run went on to its end)."""

    def __del__(self):
        signal.raise_signal(signal.SIGINT)


def _fit(callbacks) -> int:
    """Epochs a tiny model trains (5 asked) with ``callbacks``."""
    import keras
    import numpy as np

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    data = np.zeros((8, 2), np.float32), np.zeros((8, 1), np.float32)
    history = model.fit(*data, batch_size=4, epochs=5, callbacks=callbacks, verbose=0)
    return len(history.history["loss"])


def test_a_dropped_ctrl_c_is_raised_at_the_next_batch(capsys):
    from centernet_keras.training.interrupt import InterruptGuard

    before = signal.getsignal(signal.SIGINT)  # pytest-xdist's workers ignore SIGINT
    with InterruptGuard() as guard:
        _Dropper()  # collected at once: the interrupt is dropped
        assert guard.pending
        with pytest.raises(KeyboardInterrupt):
            _fit([guard])
    assert "Exception ignored" not in capsys.readouterr().err  # nor its traceback
    assert signal.getsignal(signal.SIGINT) is before  # restored
    assert _fit([InterruptGuard()]) == 5  # a guard that saw no SIGINT stops nothing
