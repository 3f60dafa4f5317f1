# Two commands on a fresh clone: `make demo` and `make test`.
.PHONY: demo test dev lint bench clean

demo:           ## set up, then run the demo against the local Graph API sandbox
	bash scripts/demo.sh

test:           ## set up, then lint, type-check and run the tests with coverage
	bash scripts/test.sh

dev:            ## the Dagster UI with the sandbox and the demo settings
	bash scripts/bootstrap.sh && .venv/bin/ads-platform dev --demo

lint:
	.venv/bin/ruff check ads_platform ads_platform_tests benchmarks && .venv/bin/mypy ads_platform

bench:          ## every issue-13 benchmark, one after another, then the table in benchmarks/README.md
	bash scripts/bootstrap.sh && .venv/bin/python benchmarks/report.py $(BENCH_ARGS)

clean:
	rm -rf .ads_platform .pytest_cache .mypy_cache .ruff_cache .coverage
