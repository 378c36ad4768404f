# newscorpus: every target installs what it needs first.
# The toolkit lives in .venv; the Label Studio *server* lives in its own .venv-labelstudio
# (it pins ~60 packages, e.g. pytz<2023, that clash with the toolkit's dependencies).

SHELL       := /bin/bash
.SHELLFLAGS := -o pipefail -c
PYTHON      ?= python3
QUIET_PIP   := { grep -v 'is ignored' || true; }
VENV        := .venv
LS_VENV     := .venv-labelstudio
LS_VERSION  ?= 1.23.2
BIN         := $(VENV)/bin
STORE       ?= data/corpus
VERSION     ?= 0.1.0
LS_PORT     ?= 8080
PROJECT     ?= newscorpus-demo

export CORPUS_LABEL_STUDIO_BIN ?= $(abspath $(LS_VENV))/bin/label-studio

.PHONY: install install-labelstudio install-browser test demo bench labelstudio labelstudio-stop release clean

install: $(VENV)/.installed install-labelstudio

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[test]' 2>&1 | $(QUIET_PIP)
	$(BIN)/python -c "import corpus, deltalake, datasets, label_studio_sdk"
	touch $@

install-labelstudio: $(LS_VENV)/.installed

$(LS_VENV)/.installed:
	$(PYTHON) -m venv $(LS_VENV)
	$(LS_VENV)/bin/pip install -q 'label-studio==$(LS_VERSION)' 2>&1 | $(QUIET_PIP)
	test -x $(LS_VENV)/bin/label-studio
	touch $@

# Chromium for the browser test: Debian's package, never a Playwright browser download.
# Best effort: where apt is not available the browser test skips.
install-browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "chromium could not be installed: the browser test will skip"; \
	  else echo "no apt/root: the browser test will skip"; fi; }

test: install install-browser
	$(BIN)/pytest -q

demo: install
	$(BIN)/corpus import seeds/ --store $(STORE) --message "demo import of seeds/"
	$(BIN)/corpus log --store $(STORE)
	$(BIN)/corpus show b18206fd37d6bce2 --store $(STORE) | head -20

bench: $(VENV)/.installed
	$(BIN)/python bench/bench_import.py

labelstudio: install-labelstudio $(VENV)/.installed
	$(BIN)/corpus labelstudio start --port $(LS_PORT)

labelstudio-stop: $(VENV)/.installed
	$(BIN)/corpus labelstudio stop

clean:
	rm -rf data dist test-output
