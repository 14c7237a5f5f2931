.PHONY: help demo test lint types check ci

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

demo: ## run the demo on embedded PostgreSQL and Redis
	uv run shelfsync demo

test: ## run the test suite
	uv run pytest

lint: ## format check and lint
	uv run ruff format --check . && uv run ruff check .

types: ## type-check
	uv run mypy

ci: ## what CI runs
	bash .ci/run
