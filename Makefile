# make test  — create .venv if missing, install the package with its dev extras (tested pins), lint, run the tests.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: test lint venv demo demo-fcos demo-pose bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e ".[dev,export]"
	touch $(STAMP)

lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# Two workers (tests are distributed one by one): 643 s of pytest on 2 cores (README). Then the
# tests marked `kernels` again under TensorFlow's other CPU kernel family (oneDNN <-> Eigen), so
# one machine checks what CPUs with and without AVX-512 run (README: Test).
test: lint
	$(PY) -m pytest -q -n 2 --dist load --durations=10
	TF_ENABLE_ONEDNN_OPTS=$$($(PY) -m centernet_keras.cpu_kernels --other) \
	  $(PY) -m pytest -q -n 2 --dist load -m kernels --durations=5

# The offline demo: synthetic VOC data -> convert -> train -> get_map -> predict (790 s on a fresh clone on 2 cores, venv included; README).
demo: venv
	PY=$(PY) bash scripts/demo.sh

# The same demo with FCOS (model_data/demo_fcos_config.json; README).
demo-fcos: venv
	PY=$(PY) DEMO_DIR=demo_fcos DEMO_CONFIG=model_data/demo_fcos_config.json bash scripts/demo.sh

# The offline pose demo: synthetic COCO keypoints -> train -> get_map (OKS) -> predict (README).
demo-pose: venv
	PY=$(PY) bash scripts/demo_pose.sh

bench: venv
	$(PY) bench/forward.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache demo demo_fcos demo_pose
