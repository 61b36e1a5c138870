# Two commands set everything up on a fresh machine: `make demo` and `make test`.
TORCH_VERSION ?= 2.13.0
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed

.PHONY: demo test install lint format clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# torch is installed first and pinned in every later pip call, so nothing pulls a CUDA build.
$(STAMP): $(PY) pyproject.toml
	echo "torch==$(TORCH_VERSION)" > $(VENV)/constraints.txt
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "torch==$(TORCH_VERSION)" numpy
	$(PIP) install -q -c $(VENV)/constraints.txt -e ".[dev]"
	# trackeval (the MOT metrics) without its dependencies: it asks for the GUI opencv-python, which would
	# overwrite the headless cv2; what it really needs (numpy, scipy, tabulate...) is installed above
	$(PIP) install -q --no-deps "trackeval==1.3.0"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m visionstack demo

test: $(STAMP)
	$(PY) -m pytest -q -n 2 --dist loadfile

lint: $(STAMP)
	$(VENV)/bin/ruff check visionstack tests benchmarks
	$(VENV)/bin/ruff format --check visionstack tests benchmarks

format: $(STAMP)
	$(VENV)/bin/ruff format visionstack tests benchmarks

clean:
	rm -rf $(VENV) work_dirs
