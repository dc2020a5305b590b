# Hoist: the two commands a new user needs.
#   make run    install what is missing, build, run the main job
#   make test   install what is missing, build, run every test
# Both are idempotent and need root only to install missing Debian packages.
SHELL := /bin/bash
.DEFAULT_GOAL := build

HOIST := build/default/src/cli/hoist
HOISTD := build/default/src/server/hoistd
FUZZ_SECONDS ?= 15

.PHONY: deps build build-programs build-asan build-fuzz console deb test check-format fuzz run bench format tidy clean

deps:
	@scripts/install-deps.sh

build: deps
	@cmake --preset default >/dev/null
	@cmake --build --preset default

# What make run and make demo run, and nothing else (make build adds the
# tests and benchmarks): on a fresh machine about half the compiling.
build-programs: deps
	@cmake --preset default >/dev/null
	@cmake --build --preset default --target hoistd hoist hoist-agent hoist_sudo

build-asan: deps
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan

build-fuzz: deps
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz

# The web console (console/ -> console/dist), served by hoistd.
console: deps
	@scripts/console.sh build

# The Debian packages hoistd, hoist-agent and hoist in build/deb, from this
# tree's build (debian/rules; docs/packaging.md).
deb: build-programs console
	@rm -rf debian/hoistd debian/hoist-agent debian/hoist debian/tmp debian/.debhelper \
	  debian/files debian/*.substvars debian/*.debhelper debian/debhelper-build-stamp build/deb
	@debian/rules binary >build/deb.log 2>&1 || { tail -30 build/deb.log; exit 1; }
	@ls build/deb/*.deb

# Every test: the format check, unit and golden tests in the normal build
# (with the console in Chromium, the packages in a Debian root), the same
# under ASan+UBSan, the console's unit tests, then a short run of every
# fuzz target.
test: check-format build build-asan build-fuzz console deb
	@ctest --preset default -j2
	@ctest --preset asan -j2
	@scripts/console.sh test
	@scripts/fuzz.sh $(FUZZ_SECONDS)
	@echo "make test: all suites passed"

fuzz: build-fuzz
	@scripts/fuzz.sh $(or $(SECONDS),300)

run: build-programs console
	@scripts/run.sh $(HOIST) $(HOISTD)

bench: build
	@scripts/install-deps.sh --bench
	@cmake --build --preset default --target hoistd_api_bench hoistd_push_bench notify_bench endpoint_bench replicas_bench
	@scripts/bench.sh

format:
	@git ls-files '*.cpp' '*.h' | xargs clang-format -i

check-format: deps
	@git ls-files '*.cpp' '*.h' | xargs clang-format --dry-run -Werror
	@echo "format: every C++ file matches .clang-format"

tidy: build
	@git ls-files 'src/*.cpp' | xargs clang-tidy -p build/default --quiet

clean:
	rm -rf build

# make demo: a sandboxed tour, as root (scripts/demo.sh): a private hoistd on
# loopback, hoist-agent, a temporary user, and a shell as that user in which
# `sudo ...` goes through hoist_sudo.so inside a private mount namespace (the
# host's /etc/sudo.conf is never written). Everything is removed at exit.
# make demo-check runs the same paths unattended (also a ctest, demo_check).
.PHONY: demo demo-check demo-needs-root

demo: demo-needs-root build-programs
	@scripts/demo.sh

demo-check: demo-needs-root build-programs
	@scripts/demo.sh --check

demo-needs-root:
	@if [ "$$(id -u)" -ne 0 ]; then \
	  echo "make demo needs root: it creates a temporary user, runs hoist-agent (a root daemon) and sudo" >&2; \
	  echo "inside a private mount namespace; all of it is removed at exit. Run: sudo make demo" >&2; \
	  exit 1; \
	fi
