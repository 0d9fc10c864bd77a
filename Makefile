# Two commands on a fresh machine:  `make demo` (train + evaluate on generated captchas)
# and `make test`. Both create .venv and install pinned dependencies first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install browser demo test lint bench-accuracy clean

$(STAMP): pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -c constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# headless Chromium + chromedriver for the page tests (apt-get as root; quick when installed)
browser:
	bash .ci/browser

demo: $(STAMP)
	$(BIN)/captcha-ocr demo

test: $(STAMP) browser
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

bench-accuracy: $(STAMP)
	$(BIN)/python bench/accuracy.py --data ../shared/datasets/captcha_images_v2

clean:
	rm -rf $(VENV) runs bench/out
