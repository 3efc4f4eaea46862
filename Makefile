# The two commands of the README. Each makes its own virtual environment on a fresh machine.
#   make demo   the main job
#   make test   lint + the test suite (what CI runs, through .ci/run; installs Chromium for tests/web if missing)
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test stubs browser clean

# Installed once per change of the packaging files; `pip install -e` keeps the sources live.
$(VENV)/.installed: setup.py pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,train]'
	touch $@

# Regenerate the wire-contract stubs when a .proto changed since the install (fast; rewrites only changes).
stubs: $(VENV)/.installed
	$(BIN)/python proto/generate.py --check >/dev/null || $(BIN)/python proto/generate.py

demo: stubs
	$(BIN)/eai-avatar demo --turns 6 --out conversation.mp4

# The browser test (tests/web) drives Debian's Chromium through its chromedriver: installed here when missing
# (as root, else through sudo). Elsewhere than Debian/Ubuntu, install Chromium and chromedriver yourself.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  command -v apt-get >/dev/null || { echo "make test needs chromium and chromedriver (tests/web)"; exit 1; }; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    chromium chromium-driver >/dev/null; }

test: stubs browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) build *.egg-info sdk/v1/*_pb2*.py sdk/v1/*_pb2.pyi
