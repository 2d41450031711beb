# The two set-up commands of the README: `make run` and `make test`.
PYTHON ?= python
APT_PACKAGES = chromium podman debootstrap

.PHONY: run test deps test-deps bench

deps:
	$(PYTHON) -m pip install -q -r requirements.txt
	$(PYTHON) -m pip install -q --no-deps -e .

run: deps
	$(PYTHON) -m streamlit run app.py --server.port 8501

test-deps: deps
	$(PYTHON) -m pip install -q -r requirements-dev.txt
	@for p in $(APT_PACKAGES); do command -v $$p >/dev/null || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi

test: test-deps
	$(PYTHON) -m pytest -m "not docker" -q
	$(PYTHON) -m pytest -m docker -q

bench: deps
	$(PYTHON) bench/bench_engine.py
