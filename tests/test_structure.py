"""Package structure rules of the detector framework (issue 9), checked on the source."""

import ast

from helpers import ROOT

PACKAGE = ROOT / "centernet_keras"


def _imports(path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_no_backbone_module_imports_a_neck():
    for path in (PACKAGE / "backbones").glob("*.py"):
        assert not any("necks" in name for name in _imports(path)), path.name


def test_one_batchnorm_setting_and_decode_called_from_the_decoder_only():
    sources = {p: p.read_text() for p in PACKAGE.rglob("*.py")}
    defining = [p.relative_to(PACKAGE) for p, s in sources.items() if "\nBN_KWARGS =" in s]
    assert [str(p) for p in defining] == ["layers/conv_bn.py"]
    calling = [
        str(p.relative_to(PACKAGE))
        for p, s in sources.items()
        if "decode_centernet(" in s.replace("def decode_centernet(", "")
    ]
    assert calling == ["decoding/centernet.py"]  # its decoder layer lives beside it


def test_public_names_stay():
    import centernet_keras as ck
    from centernet_keras.backbones.dla import dla34_base
    from centernet_keras.evaluation import evaluate
    from centernet_keras.inference import Predictor

    names = ("build_centernet", "encode_targets", "centernet_loss", "decode_centernet")
    names += ("gaussian_radius", "draw_gaussian")
    assert all(callable(getattr(ck, name)) for name in names)
    assert callable(dla34_base) and callable(evaluate) and callable(Predictor.from_checkpoint)
