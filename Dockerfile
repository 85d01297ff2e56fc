# kratos-ext-authz: Envoy ext_authz gRPC service for Ory Kratos sessions.
#
#   docker build -t kratos-ext-authz .
#   docker run --rm -p 9191:9191 -p 9192:9192 -p 9193:9193 \
#     -v "$PWD/examples/config.yaml:/etc/kratos-ext-authz/config.yaml:ro" kratos-ext-authz
#
# Works with the classic builder and BuildKit (the e2e tests build it through testcontainers).
# Node 24 LTS (Node 20 reached end of life on 2026-04-30). For production, pin the base image
# by digest as well: node:24.22.3-bookworm-slim@sha256:...
ARG NODE_IMAGE=node:24.22.3-bookworm-slim
# The image the build stages run `npm ci` in; the runtime stage is always NODE_IMAGE. Where no
# registry is reachable, scripts/container-images.sh sets it to NODE_IMAGE plus an offline npm cache.
ARG BUILD_IMAGE=${NODE_IMAGE}

# --- build: compile TypeScript (needs the dev dependencies) -------------------------------
FROM ${BUILD_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
# Only src/ is in the build context (see .dockerignore), so this emits dist/src/** alone.
RUN ./node_modules/.bin/tsc -p tsconfig.json

# --- deps: production dependencies only -----------------------------------------------------
FROM ${BUILD_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# --- runtime ----------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
# No NODE_OPTIONS: the service sizes its own V8 heap for cache.max_entries (README, "Memory"),
# the same here as for the bare bin and in the Deployment.
WORKDIR /app
# Application files stay owned by root and are only readable by the runtime user, so the
# process cannot modify its own code (also works with a read-only root filesystem).
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
# package.json says the compiled files are CommonJS; no .proto file is read at runtime (the
# Check messages have their own codec, src/envoy/codec.ts).
COPY package.json ./

# Unprivileged user shipped with the official node image (uid/gid 1000).
USER node

# 9191: gRPC (envoy.service.auth.v3.Authorization + grpc.health.v1.Health)
# 9192: HTTP /healthz, /readyz, /metrics
# 9193: HTTP authorization front doors (/forward-auth, /auth-request, /ext-authz/*)
EXPOSE 9191 9192 9193

# Docker-level liveness; Kubernetes uses the probes in deploy/kubernetes/deployment.yaml instead.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9192/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# Exec form: node runs as PID 1 and receives SIGTERM itself; the service reports NOT_SERVING,
# drains in-flight checks (server.shutdown_timeout) and exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/src/main.js"]
CMD ["--config", "/etc/kratos-ext-authz/config.yaml"]
