# modelserve: slim Python with a headless JRE (both PMML engines and H2O's MOJO scorer run in a
# JVM), non-root. The image includes the optional extras jpmml (JPMML-Evaluator, AGPL-3.0:
# README, "PMML engines, and their licences") and tensorflow (tensorflow-cpu, 1.3 GB); build
# with --build-arg EXTRAS="[learn]" for an image without them (PMML by pypmml only, no
# TensorFlow models).

# H2O's genmodel classes (Apache-2.0) for H2O MOJO models: the 1.7 MB of them taken out of the
# h2o wheel's h2o.jar (279 MB), which stays in this stage (peers/h2o/genmodel-jar).
FROM python:3.11-slim-bookworm AS h2o-genmodel
RUN apt-get update \
    && apt-get install -y --no-install-recommends unzip zip \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /build
COPY peers/h2o/requirements.lock peers/h2o/genmodel-jar ./
RUN pip download --no-deps --dest wheel "$(grep '^h2o==' requirements.lock)" \
    && unzip -q wheel/h2o-*.whl 'h2o/backend/bin/h2o.jar' -d wheel \
    && ./genmodel-jar wheel/h2o/backend/bin/h2o.jar /build/h2o-genmodel.jar

FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless \
    && rm -rf /var/lib/apt/lists/*

ARG EXTRAS="[jpmml,learn,tensorflow]"

WORKDIR /app
COPY pyproject.toml requirements.lock README.md ./
COPY service ./service
COPY schemas ./schemas
# JPype1 (Apache-2.0) always: H2O's scorer runs in its JVM, whatever the extras.
RUN pip install -c requirements.lock ".${EXTRAS}" JPype1
COPY --from=h2o-genmodel /build/h2o-genmodel.jar /opt/modelserve/h2o-genmodel.jar

RUN useradd --create-home --uid 10001 modelserve \
    && mkdir -p /var/cache/modelserve \
    && chown modelserve /var/cache/modelserve
USER modelserve

ENV MODELSERVE_HTTP_HOST=0.0.0.0 \
    MODELSERVE_HTTP_PORT=8080 \
    MODELSERVE_GRPC_PORT=8081 \
    MODELSERVE_MODEL_CACHE_DIR=/var/cache/modelserve \
    MODELSERVE_H2O_GENMODEL_JAR=/opt/modelserve/h2o-genmodel.jar \
    MODELSERVE_LOG_FORMAT=json

# HTTP, and gRPC (the Open Inference Protocol)
EXPOSE 8080 8081
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/health/live', timeout=2).status == 200 else 1)"]

ENTRYPOINT ["modelserve"]
CMD ["serve"]
