# The two commands of the README:
#   make course   set everything up, then open the course in JupyterLab
#   make test     set everything up, then run the tests
VENV := .venv
BIN := $(VENV)/bin
LAB_ARGS ?=
# JupyterLab refuses to start as root (containers, CI) unless told it is deliberate.
LAB_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: course test setup lint release figures run

# tools/jupyter-student turns off nbgrader's menus and server pages: they are for instructors
# (who use the coursekit command) and only confuse students. `.venv/bin/jupyter lab` keeps them.
course: setup
	$(BIN)/coursekit doctor
	PATH="$(CURDIR)/$(BIN):$$PATH" JUPYTER_CONFIG_PATH="$(CURDIR)/tools/jupyter-student" \
	  $(BIN)/jupyter lab notebooks/ $(LAB_ROOT) $(LAB_ARGS)

test: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest --durations=25 $(PYTEST_ARGS)

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
