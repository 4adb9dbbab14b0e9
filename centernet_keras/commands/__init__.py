"""The command-line programs, one module each (``build_parser()`` / ``main(argv) -> exit code``).

The ``centernet`` console script (:mod:`centernet_keras.console`) runs them as subcommands; the
top-level scripts (``train.py``, ``predict.py``, ``get_map.py``, ``voc_annotation.py``) are
two-line wrappers around the same ``main`` functions. A command module imports only what its
parser needs at its top (``--help`` must not load TensorFlow/Keras); its ``main`` imports the
heavier module that runs it (``train`` → ``train_run``, which imports the trainer at its top).
"""
