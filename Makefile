# Two entry points for a fresh clone: `make demo` (JupyterLab with the notebooks) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
PORT ?= 8888
# js/bundles.json lists the bundles; js/build.mjs builds them all and writes this list of outputs.
BUNDLE := cam_widgets/static/bundles.txt
JS_SOURCES := $(shell find js/src -type f) js/build.mjs js/bundles.json js/package.json js/package-lock.json

.PHONY: demo test bench install build browser clean

js/node_modules/.package-lock.json: js/package-lock.json
	cd js && npm ci

$(BUNDLE): js/node_modules/.package-lock.json $(JS_SOURCES)
	cd js && npm run build

build: $(BUNDLE)

$(STAMP): pyproject.toml $(BUNDLE)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install torch==2.13.0
	$(PY) -m pip install -e ".[lab,test]"
	$(PY) -m pip install --no-deps grad-cam==1.5.5 quantus==0.6.0
	touch $(STAMP)

install: $(STAMP)

# The browser tests drive Debian's Chromium (never a downloaded browser).
browser:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
	  else echo "the browser tests need Debian's chromium: sudo apt-get install -y chromium" >&2; exit 1; fi; }

test: $(STAMP) browser
	cd js && npm test
	$(PY) -m pytest

demo: $(STAMP)
	$(VENV)/bin/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.port=$(PORT) --no-browser $(ROOT_FLAG) --notebook-dir=notebooks

bench: $(STAMP)
	$(PY) bench/core.py --workload all

clean:
	rm -rf $(VENV) build dist *.egg-info cam_widgets/static js/node_modules
