# The two set-up commands of the README: `make run` and `make test`.
#
# Python: an activated virtualenv or conda environment is used as it is. Anywhere else (a stock
# Debian or Ubuntu, whose system Python refuses pip installs, PEP 668) the project makes .venv with
# the system's python3 and uses that. No command assumes a `python` on PATH.
# A PYTHON exported for other tools (node-gyp reads one) is not ours: only `make PYTHON=...` counts.
ACTIVE_ENV := $(or $(VIRTUAL_ENV),$(CONDA_PREFIX))
ifneq ($(origin PYTHON),command line)
PYTHON := $(if $(ACTIVE_ENV),$(ACTIVE_ENV)/bin/python,.venv/bin/python)
endif
SYSTEM_PYTHON ?= python3
# Streamlit's own variable moves the server, as it does for `streamlit run` and the Docker image.
PORT ?= $(or $(STREAMLIT_SERVER_PORT),8501)
APT_PACKAGES = chromium podman debootstrap nginx redis-server
# Installed requirements are remembered by this stamp: a second `make run` reinstalls nothing.
STAMP = $(dir $(PYTHON)).symbreak-deps

.PHONY: run test deps test-deps bench

# The virtualenv, made once. Debian splits venv into its own package (python3-venv): `make run`
# names it in one line (make's $(error), expanded only when .venv is to be made); `make test`
# installs it with apt.
HAS_VENV = $(shell $(SYSTEM_PYTHON) -c 'import ensurepip, venv' 2>/dev/null && echo yes)
.venv/bin/python:
	$(if $(HAS_VENV)$(APT_VENV),,$(error $(SYSTEM_PYTHON) has no venv module: install it first (Debian/Ubuntu: sudo apt-get install python3-venv)))
	@$(SYSTEM_PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv; }
	$(SYSTEM_PYTHON) -m venv .venv

# PyPI's Linux torch is the CUDA build (gigabytes of nvidia-* wheels). PyTorch's CPU index has the
# pinned version as X+cpu, which pip prefers to PyPI's X (a local version sorts above it); where that
# index has no wheel (or is unreachable) pip falls back to PyPI. TORCH_INDEX= turns it off.
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
TORCH_PIN = $(shell grep -E '^torch==' requirements.txt)
$(STAMP): requirements.txt pyproject.toml | $(filter .venv/bin/python,$(PYTHON))
	$(PYTHON) -m pip install -q --no-deps $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX)) "$(TORCH_PIN)"
	$(PYTHON) -m pip install -q -r requirements.txt
	$(PYTHON) -m pip install -q --no-deps -e .
	@touch $@

$(STAMP)-dev: requirements-dev.txt $(STAMP)
	$(PYTHON) -m pip install -q -r requirements-dev.txt
	@touch $@

deps: $(STAMP)

# One app process kept to one core with one torch thread (symbreak/serving/single.py says why); THREADS=N (N > 1)
# lets one user's large runs use N threads on every core instead.
THREADS ?= 1
run: deps
	$(PYTHON) -m symbreak.serving.single --port $(PORT) --threads $(THREADS)

test-deps: APT_VENV = 1
test-deps: $(STAMP)-dev
	@for p in $(APT_PACKAGES); do command -v $$p >/dev/null || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi

test: test-deps
	$(PYTHON) -m pytest -m "not docker" -q
# The engine, exactness, symmetry and divergence tests again under each of torch's CPU kernel sets, with fewer
# property examples: each set rounds differently, and the tests must hold, the ties stay bitwise, under every one.
# Only sets up to this CPU's own: asked for AVX-512 on a CPU without it, torch runs AVX-512 code regardless and
# dies of an illegal instruction.
	@top=$$($(PYTHON) -c 'import torch; print(torch.backends.cpu.get_cpu_capability().lower())'); \
	for cap in default avx2 avx512; do \
	  echo "ATEN_CPU_CAPABILITY=$$cap"; \
	  ATEN_CPU_CAPABILITY=$$cap SYMBREAK_MAX_EXAMPLES=40 $(PYTHON) -m pytest -q -p no:cacheprovider \
	    tests/test_model.py tests/test_gradients.py tests/test_engine_ops.py tests/test_optim.py \
	    tests/test_symmetry.py tests/test_trainer.py tests/test_trainer_divergence.py || exit 1; \
	  if [ "$$cap" = "$$top" ]; then break; fi; \
	done
	$(PYTHON) -m pytest -m docker -q

bench: deps
	$(PYTHON) bench/bench_engine.py

# A class on this machine: one app process per core behind nginx on $(PORT) (`symbreak serve`).
.PHONY: classroom
WORKERS ?= $(shell nproc)
classroom: deps
	$(PYTHON) -m symbreak.serving.serve --workers $(WORKERS) --port $(PORT)
