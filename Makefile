# m8trx.deployer — developer entry points. The README's two commands are `make demo` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := $(CURDIR)/.venv
export PATH := $(VENV)/bin:$(PATH)
export CONTAINERS_CONF := $(CURDIR)/sandbox/containers.conf
export ANSIBLE_HOME := $(CURDIR)/.cache/ansible-home
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export ANSIBLE_FORCE_COLOR := 0
export PYTHONDONTWRITEBYTECODE := 1
export PY_COLORS := 0
# run a command with the sandbox's variables (.sandbox/env) in its environment
WITH_SANDBOX := set -a; . $(CURDIR)/.sandbox/env; set +a;

.PHONY: help setup demo smoke test test-full sandbox-up sandbox-down sandbox-status unit sanity lint build e2e molecule clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

setup: ## install everything (OS packages, .venv, collections, base image); idempotent
	@scripts/setup.sh

demo: setup sandbox-up ## the main job on the local sandbox: deploys customer acme end to end
	@$(WITH_SANDBOX) ansible-playbook playbooks/deploy.yml -e customer=acme

smoke: setup sandbox-up ## touch all four control planes once and print what happened
	@$(WITH_SANDBOX) ansible-playbook playbooks/smoke.yml

test: setup ## the whole suite (what CI runs)
	@scripts/test.sh

test-full: setup ## the whole suite plus the slow matrices
	@M8TRX_TEST_FULL=1 scripts/test.sh

sandbox-up: ## start moto and the emulators on 127.0.0.1 (no-op when up); writes .sandbox/env
	@$(VENV)/bin/python -m sandbox.launcher up

sandbox-down: ## stop the sandbox's processes (by PID)
	@$(VENV)/bin/python -m sandbox.launcher down

sandbox-status: ## what runs where
	@$(VENV)/bin/python -m sandbox.launcher status

unit: ## unit tests and emulator contract tests
	@scripts/test.sh unit

sanity: ## ansible-test sanity on the collection as shipped
	@scripts/test.sh sanity

lint: ## ansible-lint, production profile
	@scripts/test.sh lint

build: ## build the collection, install it from the tarball, ansible-builder create
	@scripts/test.sh build

e2e: ## playbook runs against the sandbox
	@scripts/test.sh e2e

molecule: ## molecule scenarios of the host roles (podman, local systemd image)
	@scripts/test.sh molecule

clean: sandbox-down ## remove build output (keeps .venv and the base image)
	rm -rf .cache/dist .cache/install .cache/sanity context
