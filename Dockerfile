# symbreak: the Streamlit teaching app, with CPU-only PyTorch.
#
#   docker build -t symbreak .
#   docker run --rm -p 8501:8501 symbreak        # then open http://localhost:8501
#
# The entry point serves app.py through deploy/asgi.py, which adds the security headers
# (Content-Security-Policy, X-Frame-Options, nosniff, Referrer-Policy), as deploy/kubernetes and deploy/compose do.
#
# Build args:
#   BASE           base image (any Debian/Ubuntu-like image with python3 + venv)
#   TORCH_VERSION  must equal the torch pin in requirements.txt (tests/test_docker.py checks)
#   TORCH_INDEX    index for the CPU-only torch wheel; PyPI's default torch is the
#                  multi-GB CUDA build, which we never want here
#   PIP_EXTRA      extra args for every pip install, e.g. an offline build from
#                  pre-downloaded wheels: --build-arg PIP_EXTRA="--no-index --find-links /wheels"
#                  (with the folder mounted at /wheels, e.g. `podman build -v "$PWD/wheels:/wheels"`)
ARG BASE=python:3.11-slim-bookworm
FROM ${BASE}

ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ARG PIP_EXTRA=""

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

# Unprivileged runtime user (fixed numeric id, so runAsNonRoot-style checks work).
RUN useradd --uid 10001 --user-group --create-home --shell /usr/sbin/nologin symbreak

# A venv works the same on the official image and on Debian's own python3.11
# (which refuses system-wide pip installs, PEP 668).
RUN python3 -m venv /opt/venv

# 1) torch alone, CPU build: the biggest layer and the one that changes least.
#    Its bundled C++ test binaries (~120 MB) are never used at run time.
RUN pip install --index-url "${TORCH_INDEX}" ${PIP_EXTRA} "torch==${TORCH_VERSION}" \
 && SITE="$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" \
 && rm -rf "$SITE/torch/test" "$SITE"/torch/bin/test_* "$SITE"/torch/bin/*Test

WORKDIR /app

# 2) the app's requirements (the torch pin is already met by the CPU build above).
#    Fails the build if a CUDA torch slipped in anyway (e.g. mismatched pins).
COPY requirements.txt ./
RUN pip install ${PIP_EXTRA} -r requirements.txt \
 && SITE="$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" \
 && rm -rf "$SITE/pandas/tests" "$SITE/pyarrow/tests" \
 && python -c "import sys, torch; sys.exit('CUDA torch got installed: ' + torch.__version__ if torch.version.cuda else 0)"

# The command line as well, from any directory:
#   docker run --rm --entrypoint symbreak symbreak run --preset constant --steps 500
ENV PYTHONPATH=/app
RUN printf '#!/bin/sh\nexec python -m symbreak "$@"\n' > /opt/venv/bin/symbreak && chmod 755 /opt/venv/bin/symbreak

# 3) the code, last: editing it reuses every layer above (no torch reinstall).
#    Files stay root-owned, so the app user cannot modify them.
COPY . .

USER 10001:10001
# Port via env so `-e STREAMLIT_SERVER_PORT=...` moves both the server and the HEALTHCHECK.
# No start-up banner: its URLs are wrong inside a container, and printing them makes
# streamlit look up the host's public IP on an outside service at every start.
# Two malloc arenas instead of one per thread: memory a closed session freed is reused and given back.
ENV STREAMLIT_SERVER_PORT=8501 \
    STREAMLIT_LOGGER_HIDE_WELCOME_MESSAGE=true \
    MALLOC_ARENA_MAX=2
EXPOSE 8501

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://localhost:' + os.environ.get('STREAMLIT_SERVER_PORT', '8501') + '/_stcore/health', timeout=4)"]

# deploy/asgi.py is app.py with the security headers (CSP, frame-ancestors, nosniff, Referrer-Policy).
ENTRYPOINT ["streamlit", "run", "deploy/asgi.py", "--server.address=0.0.0.0"]
