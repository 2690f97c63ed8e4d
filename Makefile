# modelserve — `make demo` and `make test` are the quick start; the rest is for developers.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install peers h2o-scorer h2o-genmodel-jar demo test test-unit lint typecheck check bench soak profile lock proto schemas clean

install: $(STAMP)

# Re-runs only when the project's dependency files change (idempotent).
$(STAMP): pyproject.toml requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is required"; exit 1; }
	@command -v java >/dev/null || echo "warning: no java on PATH; PMML models need a JRE (apt-get install default-jre-headless)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e '.[dev,jpmml,tensorflow]'
	touch $(STAMP)

# Other people's OIP software the tests hold the service against (MLServer, Triton's and
# KServe's clients), each in its own venv under .peers/ (peers/README.md); tests that need
# one skip without it.
peers:
	PYTHON=$(PYTHON) peers/install

# The H2O runtime's batch scorer (service/runtimes/h2o_java/), compiled for Java 8 against the
# genmodel classes of the h2o peer's h2o.jar; the classes are committed beside their source
# (a test checks they are current), so neither an image nor a user needs a JDK.
H2O_JAR = $(wildcard .peers/h2o/lib/python3*/site-packages/h2o/backend/bin/h2o.jar)
h2o-scorer:
	javac --release 8 -Xlint:-options -cp $(H2O_JAR) -d service/runtimes/h2o_java \
		service/runtimes/h2o_java/modelserve/h2o/BatchScorer.java

# A 1.9 MB jar of just H2O's genmodel classes and what GBM, DRF, GLM and XGBoost MOJOs use
# from h2o.jar (DOCS-h2o.md), for MODELSERVE_H2O_GENMODEL_JAR: .peers/h2o/h2o-genmodel.jar
h2o-genmodel-jar:
	peers/h2o/genmodel-jar $(H2O_JAR) .peers/h2o/h2o-genmodel.jar

demo: install
	$(BIN)/modelserve demo

test: install
	$(BIN)/pytest -q

test-unit: install
	$(BIN)/pytest -q -m "not kafka"

lint: install
	$(BIN)/ruff check service tests bench
	$(BIN)/ruff format --check service tests bench

typecheck: install
	$(BIN)/mypy

check: lint typecheck test

# Figures and ratios of bench/RESULTS.md, measured in one run (several minutes).
# MLServer, the Open Inference Protocol figures' peer, runs in its own environment (peers/).
bench: install peers
	$(BIN)/python -m bench

# Where the service spends its time at full load (py-spy; prints the top functions).
profile: install
	$(BIN)/python -m bench.profile

# Memory under full load: PMML for five minutes, then the small ONNX model for as long as the
# embedded broker's memory allows (bench/soak.py says why).
soak: install
	$(BIN)/python -m bench.soak --model pmml --seconds 300
	$(BIN)/python -m bench.soak --model small-onnx --seconds 300 --broker-budget-gib 6

# Re-resolve the pinned versions (run after changing dependencies in pyproject.toml).
lock:
	rm -rf /tmp/modelserve-lock && $(PYTHON) -m venv /tmp/modelserve-lock
	/tmp/modelserve-lock/bin/pip install --quiet -e '.[dev,jpmml,tensorflow]'
	/tmp/modelserve-lock/bin/pip freeze --exclude-editable | grep -v '^-e' > requirements.lock

# Regenerate service/proto/ from schemas/*.proto (tests check it is current). The Open
# Inference Protocol's file is read as service/proto/ (a protoc path mapping), so that its
# generated gRPC module imports its messages as service.proto.open_inference_grpc_pb2.
proto: install
	$(BIN)/python -m grpc_tools.protoc -Ischemas --python_out=service/proto \
		schemas/model_descriptor.proto schemas/wine_record.proto
	$(BIN)/python -m grpc_tools.protoc -Iservice/proto=schemas --python_out=. \
		--grpc_python_out=. schemas/open_inference_grpc.proto

# Regenerate schemas/{model_event,route}.schema.json from their types (tests check it is current).
schemas: install
	$(BIN)/python -m service.tools.json_schemas

clean:
	rm -rf $(VENV) .peers .mypy_cache .ruff_cache .pytest_cache
