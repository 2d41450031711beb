# symbreak: the Streamlit teaching app, with CPU-only PyTorch, serving a class as `make classroom` does.
#
#   docker build -t symbreak .
#   docker run --rm -p 8501:8501 -v symbreak-data:/data symbreak     # then open http://localhost:8501
#
# The entry point is `symbreak serve` (as `python -m symbreak.serving.serve`): one app process per CPU the
# container may use (the fewer of its cgroup's CPU quota, e.g. `--cpus 2`, and the cores it may run on, e.g.
# `--cpuset-cpus 0-3`; `-e SYMBREAK_CPUS=N` says it outright), each kept to a core of its own, behind Debian's nginx
# with a cookie keeping each browser on one process. With one CPU the one process answers on the port itself (no
# nginx). Either way every response carries the security headers (Content-Security-Policy, X-Frame-Options,
# nosniff, Referrer-Policy).
#
# The class's data lives under /data (XDG_DATA_HOME): a named volume (`-v symbreak-data:/data`) keeps a class
# through a container restart; several containers share one store with `-e SYMBREAK_STORE=redis://host:6379/0`.
# Streamlit's own flags go after the image name (`docker run ... symbreak --theme.base=dark`), to every process.
#
# Size (`podman image inspect --format '{{.Size}}'`, on the test's stand-in base): 1,466,968,235 bytes with one
# unpinned `streamlit run deploy/asgi.py` as the entry point, 1,476,460,825 with nginx (+9.5 MB, 0.65 %: nginx
# 1.7 MB, and iproute2 with its libraries, which the package's install script needs, 5 MB).
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

# Unprivileged runtime user (fixed numeric id, so runAsNonRoot-style checks work), and /data for the class store.
RUN useradd --uid 10001 --user-group --create-home --shell /usr/sbin/nologin symbreak \
 && mkdir /data && chown 10001:10001 /data

# nginx in front of the app processes; it runs as the app user with every file in a temporary directory.
# policy-rc.d (as in Debian's own images) keeps the package from starting nginx during the build.
RUN printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d \
 && apt-get update && apt-get install -y --no-install-recommends nginx \
 && apt-get clean && rm -rf /var/lib/apt/lists/*

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
    MALLOC_ARENA_MAX=2 \
    XDG_DATA_HOME=/data
EXPOSE 8501
VOLUME /data

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://localhost:' + os.environ.get('STREAMLIT_SERVER_PORT', '8501') + '/_stcore/health', timeout=4)"]

# `symbreak serve` on STREAMLIT_SERVER_PORT, every network; SIGTERM (`docker stop`) stops nginx and the processes.
ENTRYPOINT ["python", "-m", "symbreak.serving.serve"]
