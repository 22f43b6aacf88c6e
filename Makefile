# LoRA Study Jam: `make lab` to learn, `make test` to check everything.
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.lorajam-installed
PORT    ?= 8888
LAB_ARGS ?=
# Jupyter refuses to run as root (containers, CI) unless told it is deliberate.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: install lab test lint release bench badges clean

install: $(STAMP)

# Creates .venv if missing and installs the course with every extra (lab, instructor, dev).
# CI exports PIP_CONSTRAINT=.ci/constraints-cpu.txt to pin the CPU build of torch.
$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[lab,instructor,dev]'
	@touch $(STAMP)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=. --port=$(PORT) $(ROOT_FLAG) $(LAB_ARGS) notebooks/00_welcome.ipynb

lint: $(STAMP)
	$(VENV)/bin/ruff check .

test: $(STAMP) lint
	HF_HUB_OFFLINE=1 $(VENV)/bin/pytest -q -ra --durations=15

release: $(STAMP)
	$(VENV)/bin/lorajam release

bench: $(STAMP)
	HF_HUB_OFFLINE=1 $(PY) benchmarks/course_runtime.py

badges: $(STAMP)
	$(VENV)/bin/lorajam badges

clean:
	rm -rf build grading .pytest_cache .ruff_cache
