# syntax=docker/dockerfile:1
# newsstream: one image for every process (worker, crawl, sink, topics create).
# Two stages so the runtime image carries the installed virtualenv but no pip cache or build files.

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# A venv is self-contained, so the runtime stage can copy it whole.
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# pyproject names README.md as the long description, so the build needs it.
COPY pyproject.toml README.md ./
COPY streams ./streams
RUN pip install .

FROM ${PYTHON_IMAGE} AS runtime
# A fixed numeric UID lets Kubernetes verify runAsNonRoot without resolving names.
RUN groupadd --system --gid 10001 newsstream \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/newsstream --create-home \
        --shell /usr/sbin/nologin newsstream
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    NEWSSTREAM_METRICS_PORT=9108 \
    NEWSSTREAM_METRICS_HOST=0.0.0.0 \
    NEWSSTREAM_STATE_DIR=/var/lib/newsstream/state
# The package binds /metrics and /healthz to 127.0.0.1 by default (right on a laptop); in a
# container Prometheus and the kubelet reach it over the container network, hence 0.0.0.0.
# faust keeps its table state (RocksDB) under the state dir: the user's home, so it is writable.
WORKDIR /var/lib/newsstream
USER 10001:10001
EXPOSE 9108
# slim has no curl; the stdlib does the probe. Exit 1 on any error (connection, non-2xx, timeout).
# One-shot commands (topics create) have no /healthz: compose disables the check for them.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('NEWSSTREAM_METRICS_PORT', '9108'); sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:' + port + '/healthz', timeout=3).status == 200 else 1)"]
ENTRYPOINT ["newsstream"]
CMD ["worker"]
