# The two commands of the README:
#   make course   set everything up, then open the course in JupyterLab
#   make test     set everything up, then run the tests
VENV := .venv
BIN := $(VENV)/bin
LAB_ARGS ?=
# JupyterLab refuses to start as root (containers, CI) unless told it is deliberate.
LAB_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: course test setup lint release figures run

course: setup
	$(BIN)/coursekit doctor
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/jupyter lab notebooks/ $(LAB_ROOT) $(LAB_ARGS)

test: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest

setup:
	bash tools/setup.sh

lint: setup
	$(BIN)/ruff check coursekit tests tools

release: setup
	$(BIN)/coursekit release

figures: setup
	$(BIN)/coursekit figures

run: setup
	$(BIN)/coursekit run
