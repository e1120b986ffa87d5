# evidock: every target does its own set-up on a fresh Debian machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_HOME ?= $(CURDIR)/demo-home
PYTEST_WORKERS ?= 2

.PHONY: demo test lint bench venv clean deb locale

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "evidock needs Python 3.11 or newer as $(PYTHON)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	@touch $@

# The message catalog (i18n/__init__.py): Chinese compiled from its .po for every target;
# 'make locale' re-extracts the English source messages and updates the .po for translation.
LOCALE := i18n/locale
PO := $(LOCALE)/zh_CN/LC_MESSAGES/evidock.po
MO := $(PO:.po=.mo)
SOURCES := ingest storage verify devices i18n

$(MO): $(PO) $(STAMP)
	$(BIN)/pybabel -q compile -D evidock -d $(LOCALE)

locale: $(STAMP)
	mkdir -p build
	$(BIN)/pybabel -q extract -F babel.cfg -k n_:1,2 -k p_:1c,2 -k NP_:1c,2 --no-location --sort-output \
	  -o build/evidock.pot $(SOURCES)
	$(BIN)/pybabel -q update -D evidock -d $(LOCALE) -i build/evidock.pot --no-fuzzy-matching \
	  --ignore-obsolete
	$(BIN)/pybabel -q compile -D evidock -d $(LOCALE)

venv: $(STAMP) $(MO)

demo: $(STAMP) $(MO)
	@scripts/system-deps.sh demo
	$(BIN)/evidock demo --home $(DEMO_HOME)

test: $(STAMP) $(MO)
	@scripts/system-deps.sh test
	promtool check rules monitoring/alerts.yml
	promtool test rules monitoring/alerts.test.yml
	amtool check-config monitoring/alertmanager.yml
	amtool config routes test --config.file=monitoring/alertmanager.yml \
	  --verify.receivers=on-call severity=critical alertname=EvidockFixityFailure
	amtool config routes test --config.file=monitoring/alertmanager.yml \
	  --verify.receivers=custodians-mail severity=warning alertname=EvidockDeviceNotDocked
	# our packages' byte code once: the tests start evidock as a process hundreds of times, and
	# each would compile every module again where PYTHONDONTWRITEBYTECODE is set
	$(BIN)/python -m compileall -q ingest storage verify devices i18n support
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) --dist loadgroup -m 'not deb'
	$(BIN)/pytest -q -n 0 -m deb tests/packaging

lint: $(STAMP) $(MO)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP) $(MO)
	@scripts/system-deps.sh bench
	$(BIN)/python -m bench

# The Debian package, built with Debian's tooling (dh-virtualenv) from a copy of the tracked
# files in build/deb; evidock_<version>_<arch>.deb lands here. Pip's downloads are kept in
# PIP_CACHE_DIR between builds (debhelper gives the build a HOME of its own).
DEB_BUILD := build/deb
PIP_CACHE_DIR ?= $(HOME)/.cache/evidock-deb-pip
deb:
	@scripts/system-deps.sh deb
	rm -rf $(DEB_BUILD) evidock_*.deb evidock_*.buildinfo evidock_*.changes
	mkdir -p $(DEB_BUILD)/evidock
	git ls-files -z --cached --others --exclude-standard -- . ':!tests' ':!bench' \
	  | xargs -0 sh -c 'for f; do [ -e "$$f" ] && printf "%s\0" "$$f"; done' sh \
	  | tar --null -T - -cf - | tar -xf - -C $(DEB_BUILD)/evidock
	git rev-parse --short=12 HEAD > $(DEB_BUILD)/evidock/ingest/build-commit 2>/dev/null || true
	cd $(DEB_BUILD)/evidock && PIP_CACHE_DIR=$(PIP_CACHE_DIR) dpkg-buildpackage -b -us -uc
	mv $(DEB_BUILD)/evidock_*.deb .
	@ls -l evidock_*.deb

clean:
	rm -rf $(VENV) $(DEMO_HOME) .pytest_cache .mypy_cache .ruff_cache build evidock_*.deb
