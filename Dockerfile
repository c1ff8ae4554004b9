# syntax=docker/dockerfile:1
# One image for every process: the API by default, the worker with
#   docker run <image> node apps/worker/dist/main.js
# Build: docker build -t render-signal .

ARG NODE_IMAGE=node:22-bookworm-slim

# --- npm manifests only, so the dependency layers are rebuilt only when a package.json or the lockfile changes
FROM ${NODE_IMAGE} AS manifests
WORKDIR /app
COPY . .
RUN find . -type f ! -name package.json ! -name package-lock.json ! -name .npmrc -delete \
 && find . -depth -type d -empty -delete

# --- build: every dependency (dev included), then esbuild bundles each app into apps/<app>/dist
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY --from=manifests /app ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build \
 && mkdir -p /out \
 && for dist in apps/*/dist; do mkdir -p "/out/$dist" && cp -R "$dist/." "/out/$dist/"; done

# --- production dependencies: the bundles import their npm packages (express, bullmq, ioredis…) at run time
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY --from=manifests /app ./
RUN npm ci --omit=dev --workspaces --include-workspace-root --no-audit --no-fund \
 && npm cache clean --force

# --- runtime
FROM ${NODE_IMAGE} AS runtime
# tini as PID 1 reaps zombies and forwards SIGTERM to node, which then drains (API) or finishes its jobs
# (worker). -s keeps it correct under `docker run --init` too, where it is not PID 1.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    PORT=3000
WORKDIR /app
# Root-owned and read-only for the app user: the processes never write to their own code.
COPY --from=prod-deps /app ./
COPY --from=build /out/apps ./apps
USER node
EXPOSE 3000
# The API's liveness endpoint (it never touches Redis). Worker containers have no HTTP server:
# docker-compose.yml disables this check for them, and Render ignores HEALTHCHECK (it uses healthCheckPath).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "-s", "--"]
CMD ["node", "apps/api/dist/main.js"]
