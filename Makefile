# Two commands matter: `make run` (set up and serve the demo) and `make test` (set up and run the suite).
# Both create .venv, install the pinned requirements and start embedded services where no server URL is set.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed
PYTEST_ARGS ?=

.PHONY: run test lint smoke bench setup browser clean-var

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required, found " + sys.version' 
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(PY) -m devstack run

test: setup browser
	$(PY) -m devstack exec -- $(PY) -m pytest $(PYTEST_ARGS)

# The console browser tests drive Debian's Chromium (with CJK fonts, or Chinese renders as boxes). Installed here
# when missing and this user can (root with apt-get); otherwise those tests skip and say why.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "installing Debian's chromium and fonts-noto-cjk for the browser tests"; \
			(apt-get install -y -q chromium fonts-noto-cjk || (apt-get update -q && apt-get install -y -q chromium fonts-noto-cjk)) >/dev/null \
				|| echo "could not install chromium: the browser tests will be skipped"; \
		else echo "no chromium and no way to install it: the browser tests will be skipped"; fi; }

lint: setup
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports
	$(PY) -m devstack exec -- sh -c '$(PY) manage.py makemigrations --check --dry-run && \
		$(PY) manage.py spectacular --validate --fail-on-warn --file /dev/null' 

smoke: setup
	$(PY) -m devstack smoke

bench: setup
	DEVSTACK_INSTANCE=$${DEVSTACK_INSTANCE:-bench} $(PY) -m devstack exec -- $(PY) -m bench

clean-var:
	rm -rf var/
