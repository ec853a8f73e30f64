# SME hotline assistant. `make run` and `make test` are all a new machine needs.
.DEFAULT_GOAL := help
SHELL := /bin/bash

VENV := .venv
PY := $(VENV)/bin/python
RASA := $(VENV)/bin/rasa
MODEL := models/hotline.tar.gz
NLU_STAMP := var/nlu/.built
KB := var/kb.db

# Settings Rasa reads through ${VAR} in endpoints.yml must have a value; .env may override.
ifneq ($(wildcard .env),)
include .env
endif
export BOT_ACTION_URL ?= http://127.0.0.1:5055/webhook
# Empty: `make run` draws a new shared secret for Rasa and the action server on each start.
export BOT_ACTION_TOKEN ?=
export BOT_VAR_DIR ?= var
# Empty database URLs mean SQLite files under BOT_VAR_DIR (endpoints.yml, bot/settings.py).
export BOT_TRACKER_DB_URL ?=
export BOT_OPS_DB_URL ?=
# credentials.yml: LINE stays off (its webhook answers 503) until these are set in .env.
export BOT_LINE_CHANNEL_SECRET ?=
export BOT_LINE_ACCESS_TOKEN ?=
export BOT_LINE_API_URL ?= https://api.line.me
# Rasa sends usage telemetry and error reports to the internet unless told not to.
export RASA_TELEMETRY_ENABLED := false
export PYTHONPATH := $(CURDIR)
export TF_CPP_MIN_LOG_LEVEL ?= 2
export $(shell [ -f .env ] && sed -n 's/^\([A-Z_][A-Z0-9_]*\)=.*/\1/p' .env)

# Python 3.10: pyenv's versions first (its shims refuse a version that is not selected), then PATH.
PYTHON310 ?= $(shell for p in "$$(pyenv root 2>/dev/null)"/versions/3.10*/bin/python3.10 $$(command -v python3.10 2>/dev/null); do \
	[ -x "$$p" ] && "$$p" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null && { echo "$$p"; break; }; done)

NLU_DATA := $(shell find data -name '*.yml' 2>/dev/null)
KNOWLEDGE := $(shell find knowledge -name '*.yml' 2>/dev/null)
# The code the trained model loads: the components config.yml names and what they import
# (tests/test_layout.py checks this list). Other bot/nlu modules (parser, evaluation) need no retrain.
NLU_CODE := bot/nlu/components.py bot/nlu/ensemble.py bot/nlu/normaliser.py bot/nlu/numerals.py


.PHONY: fuzz help install run run-services secrets browser test validate train eval eval-qa retrain cv cv-calibration bench bench-ops lint format docs clean pytest stories run-scaled run-scaled-services scale-services bench-load bench-anchor

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt constraints.txt
	@if [ -z "$(PYTHON310)" ]; then echo "error: Python 3.10 not found (Rasa 3.6 needs it). Install it with 'pyenv install 3.10' or your package manager, or set PYTHON310=/path/to/python3.10." >&2; exit 1; fi
	@echo "==> creating $(VENV) with $(PYTHON310)"
	@[ -x $(PY) ] || $(PYTHON310) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check "pip<24.1"
	@echo "==> installing pinned packages (first time: a few minutes)"
	@$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
	@touch $@

install: $(VENV)/.installed ## Create .venv (Python 3.10) and install pinned packages

# A missing, placeholder (change-me) or short (< 32 characters) secret is replaced: the programs refuse them.
secrets: ## Add any missing secret to the git-ignored .env (random values), replacing placeholders
	@umask 077; touch .env; chmod 600 .env; for name in BOT_RASA_TOKEN BOT_SESSION_SECRET BOT_API_TOKEN BOT_ACTION_TOKEN; do \
		value=$$(sed -n "s/^$$name=//p" .env | tail -n 1); \
		case "$$value" in *change-me*|"") weak=1 ;; *) weak=$$([ $${#value} -lt 32 ] && echo 1 || echo 0) ;; esac; \
		if [ "$$weak" = 1 ]; then echo "==> writing a random $$name to .env"; sed -i "/^$$name=/d" .env; \
		echo "$$name=$$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" >> .env; fi; done

$(NLU_STAMP): $(VENV)/.installed $(KNOWLEDGE) bot/nlu/gazetteer.py bot/nlu/build.py bot/kb/records.py
	@echo "==> building NLU resources from knowledge/ (jieba dictionary, spaCy entity ruler)"
	@$(PY) -m bot nlu build
	@touch $@

$(KB): $(VENV)/.installed $(KNOWLEDGE) $(wildcard bot/kb/*.py)
	@echo "==> building the knowledge base var/kb.db from knowledge/"
	@$(PY) -m bot kb build

# --skip-validation: the data checks are `make validate` (run first by `make test`, with
# --fail-on-warnings); repeating them inside training cost ~5 s of every training.
$(MODEL): $(NLU_STAMP) $(NLU_DATA) config.yml domain.yml $(NLU_CODE)
	@echo "==> training the Rasa model (data or config changed)"
	@mkdir -p models
	@$(RASA) train --skip-validation --data data --config config.yml --domain domain.yml --out models --fixed-model-name hotline --quiet
	@touch $@

train: $(MODEL) ## Train the model if training data, knowledge or config changed

validate: $(NLU_STAMP) ## Check training data and domain (rasa data validate)
	@$(RASA) data validate --data data --config config.yml --domain domain.yml --fail-on-warnings

run: secrets $(KB) $(MODEL) ## Install, train if needed, start the bot (5005), action server (5055) and web app (8000)
	@$(MAKE) --no-print-directory run-services

run-services:
	@$(PY) -m bot run

run-scaled: secrets $(KB) $(MODEL) scale-services ## Scale-out profile: 2 Rasa servers (BOT_RASA_SERVERS) behind nginx :8080 on PostgreSQL, Redis, RabbitMQ
	@$(MAKE) --no-print-directory run-scaled-services

# The local RabbitMQ's built-in account (it only accepts loopback connections); set your own in .env.
run-scaled-services bench-load: export BOT_AMQP_PASSWORD ?= guest
run-scaled-services:
	@$(PY) -m bot run --scaled

# The scaled profile's services on this machine (Debian): installed if missing, started if stopped.
scale-services: ## PostgreSQL :5432, Redis :6379, RabbitMQ :5672 running and nginx installed (apt-get if missing)
	@missing=""; for pair in nginx:nginx pg_ctlcluster:postgresql redis-server:redis-server rabbitmq-server:rabbitmq-server; do \
		command -v $${pair%%:*} >/dev/null || missing="$$missing $${pair##*:}"; done; \
	if [ -n "$$missing" ]; then echo "==> installing$$missing (apt-get)"; apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi
	@pg_isready -q -h 127.0.0.1 -p 5432 || { echo "==> starting PostgreSQL"; \
		pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | tail -1) main start; }
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || { echo "==> starting Redis"; mkdir -p /var/lib/redis /var/log/redis; \
		redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log; }
	@rabbitmqctl -q status >/dev/null 2>&1 || { echo "==> starting RabbitMQ"; rabbitmq-server -detached; rabbitmqctl -q await_startup; }

bench-load: $(KB) $(MODEL) scale-services ## Load on one Rasa server vs two behind nginx (scaled profile); reports/bench-load.md
	@$(PY) -m bench.load

pytest: $(KB) $(MODEL)
	@$(PY) -m pytest -q

stories: $(KB) $(MODEL)
	@echo "==> story tests (end-to-end, real NLU)"
	@$(RASA) test core --model $(MODEL) --stories tests/stories --fail-on-prediction-errors --out results/stories

browser: ## Debian's chromium and Noto CJK fonts for browser tests (apt-get; never a downloaded browser)
	@if [ -x /usr/bin/chromium ] && fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then :; else \
		echo "==> installing chromium and fonts-noto-cjk (apt-get)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; fi

test: validate browser scale-services $(KB) $(MODEL) ## Everything that checks the project: data validation, pytest, story tests, fuzzing
	@$(MAKE) --no-print-directory pytest
	@$(MAKE) --no-print-directory stories
	@$(MAKE) --no-print-directory fuzz

# Hypothesis over the input guard, numerals, masking and the LINE parser: about 40 s, killed at 90 s.
FUZZ_EXAMPLES ?= 800
fuzz: $(VENV)/.installed ## Fuzz the code that reads raw input (bounded time; figures in reports/fuzz.txt)
	@echo "==> fuzzing input guard, numerals, masking, LINE parser ($(FUZZ_EXAMPLES) examples each)"
	@FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) timeout 90 $(PY) -m pytest -q -s -p no:cacheprovider tests/fuzz

eval: $(MODEL) ## Both held-out sets by category, calibration and latency to reports/eval.md
	@$(PY) -m bot eval

retrain: $(KB) $(MODEL) ## Ops corrections → candidate model, scored against the live one, promoted only if no worse (reports/retrain-<date>.md)
	@$(PY) -m bot retrain

cv: $(NLU_STAMP) ## Cross-validate pipeline settings to reports/cv.md (slow)
	@$(PY) -m bench.cv

cv-calibration: $(NLU_STAMP) ## Choose the intent calibration's weights, temperature and fallback threshold by 3-fold CV; reports/cv_calibration.md (slow)
	@$(PY) -m bench.calibration

bench: $(KB) $(MODEL) ## Benchmark against Rasa's default pipeline and TF-IDF+LR, and a turn against bare Rasa; reports/bench.md
	@$(PY) -m bench.nlu
	@$(PY) -m bench.anchor

bench-anchor: $(KB) $(MODEL) ## Only the REST turn against a bare Rasa bot (latency, 8 callers, turn 1/50/500, profile)
	@$(PY) -m bench.anchor

bench-ops: $(VENV)/.installed ## Time /ops on 20,000 generated conversations against parsing every event; reports/bench_ops.md
	@$(PY) -m bench.ops

lint: $(VENV)/.installed ## Static checks: ruff check on all the code, mypy on bot/ and actions/ (pyproject.toml)
	@$(VENV)/bin/ruff check
	@$(VENV)/bin/mypy

format: $(VENV)/.installed ## Rewrite the code in the project's format: ruff's fixes (import order), then ruff format
	@$(VENV)/bin/ruff check --fix-only --quiet
	@$(VENV)/bin/ruff format

docs: $(VENV)/.installed ## Regenerate docs/cli.md and docs/settings.md from the code (a test fails when they drift)
	@$(PY) -m bot.docs_reference

clean: ## Remove generated state (models, var, reports); keeps .venv and .env
	rm -rf models var reports results

eval-qa: $(KB) $(MODEL) ## Play tests/qa/qa.yml over REST against the real stack; reports/qa.md (BASELINE=checkout reruns the before column)
	@$(PY) -m tests.qa.runner $(if $(BASELINE),--baseline $(BASELINE),--before-json tests/qa/baseline.json)
