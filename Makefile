# Convenience targets. The benchmark suite is documented in benchmarks/README.md.
PYTHON ?= .venv/bin/python

.PHONY: bench bench-quick bench-full bench-smoke

bench: bench-full

bench-quick:
	$(PYTHON) benchmarks/run.py --quick

bench-full:
	$(PYTHON) benchmarks/run.py --full

bench-smoke:
	$(PYTHON) benchmarks/run.py --smoke
