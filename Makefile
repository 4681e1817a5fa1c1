# The two set-up commands of the README, and a few helpers. Everything runs in .venv.
VENV ?= .venv
PY := $(VENV)/bin/python
# xstatic packages are sdists whose build needs pkg_resources (setuptools < 81)
PIP_INSTALL := $(PY) -m pip install --quiet --build-constraint build-constraints.txt
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test check pytest babel-extract babel-compile

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

## Install, create the SQLite database with demo data, and start the app.
run: $(PY)
	@bash scripts/system-packages.sh run
	$(PIP_INSTALL) -e .
	$(VENV)/bin/carebiz db upgrade
	$(VENV)/bin/carebiz demo
	@$(VENV)/bin/carebiz pdf-check || echo "PDFs will be slow or print Chinese as boxes: see above"
	@echo "Open http://$(HOST):$(PORT)/ and log in as admin / carebiz-demo"
	$(VENV)/bin/carebiz run --host $(HOST) --port $(PORT)

## Install test dependencies and run the linter, the import contracts, the type check and the
## whole suite.
test: $(PY)
	@bash scripts/system-packages.sh test
	$(PIP_INSTALL) -e '.[test]'
	$(MAKE) check

check:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy
	$(PY) -m pytest -n auto

## Translations: extract every core string, then compile the catalogs.
babel-extract:
	$(VENV)/bin/pybabel extract -F babel.cfg -k lazy_gettext -k _l -k N_ -k lazy_pgettext:1c,2 --no-location --sort-output \
		--project CareBusiness --version "$$($(PY) -c 'import carebiz; print(carebiz.__version__)')" \
		--copyright-holder "the CareBusiness authors" \
		-o platform/carebiz/translations/carebiz.pot platform/carebiz
	$(VENV)/bin/pybabel update -D carebiz -l zh_Hans_CN --init-missing --ignore-pot-creation-date \
		-i platform/carebiz/translations/carebiz.pot -d platform/carebiz/translations

babel-compile:
	$(VENV)/bin/pybabel compile -D carebiz -l zh_Hans_CN -d platform/carebiz/translations --statistics
