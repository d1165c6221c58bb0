PYTHON ?= python3

.PHONY: demo test install

install:
	$(PYTHON) -m pip install -q -e .

# The main job end to end on a synthetic replica; downloads nothing.
demo: install
	$(PYTHON) -m dgae demo --out demo_out

# Installs the test extras and runs the suite.
test:
	$(PYTHON) -m pip install -q -e ".[test]"
	$(PYTHON) -m pytest -q
