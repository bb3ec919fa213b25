# The catalogue as one small image: migrations run at start, the seed loads into an empty database.
# Multi-arch by construction (amd64, arm64, ...): the base image is, every dependency has wheels
# there (tests/install/test_platforms.py), nothing is compiled and no system package is added.

FROM python:3.11-slim AS deps
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src

# Dependencies and the build backend first, from pyproject.toml alone: this layer is rebuilt only
# when pyproject.toml changes, never for a change to the code.
COPY pyproject.toml ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb')); \
print(*p['project']['dependencies'], sep='\n', file=open('requirements.txt', 'w')); \
print(*p['build-system']['requires'], sep='\n', file=open('build-requirements.txt', 'w'))" \
    && python -m venv /opt/papers \
    && /opt/papers/bin/pip install --no-cache-dir --requirement requirements.txt \
    && pip install --no-cache-dir --requirement build-requirements.txt

# Then the app, built into a wheel (installed as one below, not editable): templates, static files and
# migrations travel inside the package.
FROM deps AS build
COPY README.md alembic.ini ./
COPY migrations ./migrations
COPY templates ./templates
COPY static ./static
COPY app ./app
RUN pip wheel --no-cache-dir --no-build-isolation --no-deps --wheel-dir /tmp/dist .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/papers/bin:$PATH \
    DATA_DIR=/data
# The dependencies and the app are layers of their own: a code change ships a new app layer of a few
# MB, the dependency layer (about 190 MB) stays the one already pulled.
COPY --from=deps /opt/papers /opt/papers
COPY --from=build /tmp/dist /tmp/dist
RUN /opt/papers/bin/pip install --no-cache-dir --no-deps /tmp/dist/papers_catalogue-*.whl \
    && rm -rf /tmp/dist
# A numeric user, so `runAsNonRoot` can verify it; a host folder mounted on /data must be writable
# by uid 10001 (README, "Docker").
RUN mkdir -p /data && chown 10001:10001 /data
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4).status != 200)"]
CMD ["papers", "serve", "--host", "0.0.0.0", "--port", "8000"]
