# StepSync: `make run` and `make test` bootstrap .venv (and Debian packages) on a fresh machine.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.bootstrapped
SCENE  ?= grocery-first-visit
PATIENT ?= demo-healthy
DURATION ?= 120

.PHONY: run test bench lint faults clean

$(STAMP): pyproject.toml tools/bootstrap.sh
	bash tools/bootstrap.sh
	touch $(STAMP)

# With a display: the therapist menu. Without: a full headless session on the virtual rig.
run: $(STAMP)
	@if [ -n "$$DISPLAY" ]; then \
		$(PY) main.py run --patient $(PATIENT); \
	else \
		$(PY) main.py run --scene $(SCENE) --patient $(PATIENT) --duration-s $(DURATION) --headless; \
	fi

test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider

bench: $(STAMP)
	$(PY) -m bench all

faults: $(STAMP)
	RELIABILITY_MD=docs/reliability.md $(PY) -m pytest -q -p no:cacheprovider -m "slow or not slow" tests/faults

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) build *.egg-info
