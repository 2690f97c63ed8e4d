# modelserve: slim Python with a headless JRE (both PMML engines run in a JVM), non-root.
# The image includes the optional extra jpmml (JPMML-Evaluator, AGPL-3.0: README, "PMML engines,
# and their licences"); build with --build-arg EXTRAS= for an image without it (pypmml only).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless \
    && rm -rf /var/lib/apt/lists/*

ARG EXTRAS="[jpmml,learn]"

WORKDIR /app
COPY pyproject.toml requirements.lock README.md ./
COPY service ./service
COPY schemas ./schemas
RUN pip install -c requirements.lock ".${EXTRAS}"

RUN useradd --create-home --uid 10001 modelserve \
    && mkdir -p /var/cache/modelserve \
    && chown modelserve /var/cache/modelserve
USER modelserve

ENV MODELSERVE_HTTP_HOST=0.0.0.0 \
    MODELSERVE_HTTP_PORT=8080 \
    MODELSERVE_GRPC_PORT=8081 \
    MODELSERVE_MODEL_CACHE_DIR=/var/cache/modelserve \
    MODELSERVE_LOG_FORMAT=json

# HTTP, and gRPC (the Open Inference Protocol)
EXPOSE 8080 8081
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/health/live', timeout=2).status == 200 else 1)"]

ENTRYPOINT ["modelserve"]
CMD ["serve"]
