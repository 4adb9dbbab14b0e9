"""The dataset doctor (``centernet check``, and the summary ``centernet train`` logs at start):
what a data set looks like to a detector at its input size, before any training.

- ``survey``: every object as the network sees it (after the letterbox / resize to the input,
  ``boxes.boxes_to_input``), the images' sizes and byte hashes, the joints' visibility;
- ``learnable``: which objects the detector's own target encoder and decoder lose (the oracle
  round trip of ``evaluation.oracle``): objects no output location can learn;
- ``findings``: the findings, which of them fail the check (exit 1), the table and the
  one-paragraph summary;
- ``plot``: ``data_report.png``.
"""
