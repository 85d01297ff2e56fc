# Developer entry points. `npm ci` first on a fresh clone (the targets build as needed).
.PHONY: build test test-e2e test-chaos soak demo run bench bench-smoke heimdall-install clean stack stack-install

build:
	npm run build

test:
	npm test

test-e2e:
	npm run test:e2e

# Kratos faults, replica failover and gRPC-port abuse through the real stack (about 2 minutes).
test-chaos:
	npm run test:chaos

# Off CI: SOAK_MINUTES (20) at SOAK_RATE (1000) rps through the real Envoy, RSS/heap/handles first vs last.
soak: build
	node dist/test/chaos/soak.js

# The real stack on loopback: Kratos, Envoy, the echo upstream and the service (Ctrl-C stops it).
stack:
	npm run stack

# The real Envoy and Kratos binaries, pinned in stack/versions.json, cached by version.
stack-install:
	npm run stack:install

# The service beside the Kratos emulator, deciding a dozen Envoy-shaped requests.
demo: build
	node dist/scripts/demo.js

# The service with the defaults (Kratos at 127.0.0.1:4433 / :4434, gRPC on :9191).
run: build
	node dist/src/main.js $(if $(CONFIG),--config $(CONFIG))

# Needs h2load (Debian: apt-get install nghttp2-client) and Go. The last phases run through the real
# Envoy and Kratos, which it installs as `make stack-install` does, and against Heimdall, which it
# builds as `make heimdall-install` does (both cached after the first time).
bench: build
	node dist/bench/run.js

bench-smoke: build
	node dist/bench/run.js --smoke

# The bench's peer, Heimdall v0.17.18, built from ../shared/vendor's source archive (cached; the
# bench's peer phase runs this itself, tens of minutes the first time).
heimdall-install:
	scripts/install-heimdall.sh

clean:
	rm -rf dist
