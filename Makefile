# Set-up and the main jobs. `make demo` and `make test` each do all set-up on a fresh Debian machine.
PY ?= python3
PIP := $(PY) -m pip install --quiet --disable-pip-version-check --root-user-action=ignore
FMNIST_DIR := /usr/share/datasets/fashion-mnist

.PHONY: install install-test install-docs data browser demo test test-all bench docs docs-guides

data:  # Fashion-MNIST from Debian's dataset-fashion-mnist (IDX gzip files); nothing downloads at run time
	@test -f $(FMNIST_DIR)/train-images-idx3-ubyte.gz || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist)

browser:  # headless Chromium for the report's browser test (tests/test_browser.py), from Debian
	@command -v chromium >/dev/null 2>&1 || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)

install: data  # pin the CPU torch first: an unpinned torch pulls gigabytes of CUDA wheels
	$(PIP) torch==2.13.0
	$(PIP) -e .

install-test: data browser
	$(PIP) torch==2.13.0
	$(PIP) -e ".[test]"

demo: install  # CG-scores for Fashion-MNIST with 20% injected label noise, and the HTML report of them
	trainfree score cg --data fmnist --n 10000 --noise 0.2 --seed 0 --out out/demo
	@echo "Open the report in a browser: $(CURDIR)/out/demo/report.html"

test: install-test
	$(PY) -m pytest -q

test-all: install-test  # includes the slow, full-size experiments
	$(PY) -m pytest -q -m ""

bench: install
	$(PY) bench/cg_speed.py --n 2000
	$(PY) bench/cg_noise.py --data fmnist --n 10000 --noise 0.2 --seed 0

install-docs: install
	$(PIP) -e ".[docs]"

docs: install-docs  # the documentation site, examples executed; any warning is an error
	$(PY) -m sphinx -W --keep-going -b html docs docs/_build/html
	@echo "Open $(CURDIR)/docs/_build/html/index.html"

docs-guides: install  # every command and code block of docs/guides, run as written (small n, a few minutes)
	$(PIP) -e ".[dask,test]"
	$(PY) -m pytest -q -m slow tests/test_docs.py
