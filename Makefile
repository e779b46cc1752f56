# The two commands of the README: `make demo` and `make test`. Both create .venv/ first.
.PHONY: setup demo test test-fast lock clean

setup:
	scripts/setup.sh

demo: setup
	scripts/demo.sh

test: setup
	scripts/test.sh

# Lint and the pure and unit tests: no services, no real weights (under two minutes).
test-fast: setup
	scripts/test.sh --fast

# Re-pin every dependency after editing pyproject.toml (needs the package index).
lock:
	rm -rf .lockvenv && python3.11 -m venv .lockvenv
	.lockvenv/bin/pip install --quiet -e '.[test]'
	.lockvenv/bin/pip freeze --all --exclude-editable | grep -vE "^(autocaption|pip)==" > requirements.lock
	rm -rf .lockvenv

clean:
	rm -rf samples .cache build *.egg-info
