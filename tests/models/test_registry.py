"""The detector registry (``models.registry``): names known without Keras, each built-in
detector registered on its class under its ``--detector`` word, and the commands' lists of
detectors equal to the registry's."""

import re
import subprocess
import sys

import pytest

from centernet_keras.console import main
from centernet_keras.decoding.base import Decoder
from centernet_keras.models import Detector
from centernet_keras.models.registry import (
    BUILTIN_DETECTORS,
    detector_class,
    detector_names,
    register_detector,
)


def test_the_registry_names_the_detectors_without_loading_keras():
    code = (
        "import sys\n"
        "from centernet_keras.models.registry import detector_names\n"
        "print(detector_names(), 'keras' in sys.modules, 'tensorflow' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == f"{sorted(BUILTIN_DETECTORS)} False False"


@pytest.mark.parametrize("name", sorted(BUILTIN_DETECTORS))
def test_each_builtin_detector_declares_itself_on_its_class(name):
    cls = detector_class(name)
    assert issubclass(cls, Detector) and cls.detector_name == name
    assert cls.__module__ == BUILTIN_DETECTORS[name]
    assert issubclass(cls.decoder_class, Decoder) and cls.decoder_class is not Decoder
    assert cls.from_settings.__func__ is not Detector.from_settings.__func__
    assert isinstance(cls.decode_needs_input_size, bool)
    assert cls.strides and all(isinstance(s, int) and s > 0 for s in cls.strides)


def test_the_doctor_names_a_detector_that_declares_no_strides():
    """The dataset doctor reads ``Detector.strides``: a class without them gets one line
    saying what to declare (it crashed on a missing ``output_stride`` before)."""
    from centernet_keras.doctor.findings import finest_stride

    undeclared = type("NoStrides", (Detector,), {})
    with pytest.raises(TypeError, match="NoStrides declares no output strides: set its class"):
        finest_stride(undeclared)
    assert finest_stride(detector_class("fcos")) == 8 and finest_stride(detector_class("pose")) == 4


def test_capabilities_on_the_classes():
    assert detector_class("pose").keypoint_spec.num_joints == 17  # its default joints
    assert detector_class("centernet").keypoint_spec is None
    assert detector_class("fcos").decode_needs_input_size
    assert not detector_class("centernet").decode_needs_input_size


@pytest.mark.parametrize("command", ["train", "benchmark"])
def test_the_commands_list_the_registrys_detectors(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    listed = re.search(r"--detector \{([\w,]+)\}", capsys.readouterr().out).group(1)
    assert sorted(listed.split(",")) == detector_names()


def test_a_name_is_registered_once():
    class Another(Detector):
        detector_name = "centernet"

    with pytest.raises(ValueError, match=r"taken by centernet_keras\.models\.centernet"):
        register_detector(Another)

    class Nameless(Detector):
        pass

    with pytest.raises(ValueError, match="needs a detector_name"):
        register_detector(Nameless)
    with pytest.raises(ValueError, match="no detector 'nope'"):
        detector_class("nope")
