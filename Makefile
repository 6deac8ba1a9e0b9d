# The two commands a newcomer needs (see README): `make demo` and `make test`.
.PHONY: demo test bench fixtures wheel
demo:
	bash scripts/demo.sh
test:
	bash scripts/test.sh
fixtures:
	bash scripts/fixtures.sh
bench:
	bash scripts/bench.sh
wheel:
	bash scripts/wheel.sh
