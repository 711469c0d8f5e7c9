# The two commands of the README: `make run` and `make test`.
# Both create .venv when it is missing and (re)install the project only when
# pyproject.toml or constraints.txt changed since the last install (the stamp file records it).
# constraints.txt pins the libraries that compute numbers (torch, torchvision, numpy, avalanche-lib).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.install-stamp
# The shared offline data copy, when present next to the project and not
# already chosen by the caller.
ifneq ($(wildcard ../shared/data),)
export HIPPO_BENCH_DATA ?= $(abspath ../shared/data)
endif
export MPLBACKEND := Agg
# CI also installs the optional Ray extra, so the sweep's Ray executor test runs there (it skips elsewhere).
EXTRAS := test
ifeq ($(CI),true)
EXTRAS := test,ray
endif

.PHONY: run test test-slow bench leaderboard release golden docs install clean browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install --disable-pip-version-check -q -c constraints.txt -e '.[$(EXTRAS)]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/hippo-bench run --strategy meta-hippo

test: $(STAMP) browser
	$(BIN)/python -m pytest -q

# The report's browser test (tests/test_report_browser.py) drives Debian's headless Chromium; CI installs it
# (and its driver) when missing. Elsewhere the test skips, saying how to install them.
browser:
ifeq ($(CI),true)
	@command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 || \
		{ echo "installing chromium and chromium-driver for the browser test"; \
		  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }
else
	@:
endif

# Full-protocol experiments; not part of `make test`.
test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

bench: $(STAMP)
	$(BIN)/python scripts/bench_versus.py
	$(BIN)/python scripts/bench_speed.py

leaderboard: $(STAMP)
	$(BIN)/hippo-bench leaderboard build

# Regenerate every published number with the code at hand (resumable; see README, "Releases").
release: $(STAMP)
	$(BIN)/hippo-bench release --jobs 2

# The documentation site (docs/, MkDocs) into site-docs/, strict: a broken link fails the build.
docs: $(STAMP)
	$(BIN)/mkdocs build --strict

# Accept a change of numbers: rewrite the golden runs (then say why in CHANGELOG.md).
golden: $(STAMP)
	$(BIN)/hippo-bench golden --rewrite

clean:
	rm -rf $(VENV) build *.egg-info
