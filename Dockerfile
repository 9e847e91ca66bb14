# The bridge: one image, every role. ROLES picks what a container runs (all | ingest,outbound,...).
# Two targets: the default (last) is production, without the fakes, the sandbox entry point, bench/
# or tests; `--target sandbox` adds the fakes and examples/ for `node dist/src/sandbox.js`.
# Node 24 LTS on Debian bookworm, pinned to the release scripts/ensure-deps.sh installs.

FROM node:24.22.3-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.image.json ./
COPY src ./src
COPY schemas ./schemas
# src/ only (tsconfig.image.json): bench/ and test/ are never compiled into the image.
RUN npx tsc -p tsconfig.image.json && npm prune --omit=dev --no-audit --no-fund \
 && mkdir -p /prod && cp -r dist /prod/dist && rm -rf /prod/dist/src/fakes /prod/dist/src/sandbox.js*

FROM node:24.22.3-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HTTP_PORT=3000 \
    ADMIN_PORT=9464
WORKDIR /app
# package.json marks the project root, where the code finds schemas/ and migrations/ at run time.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY schemas ./schemas
COPY migrations ./migrations
# The image's node user (UID 1000); the Kubernetes manifests run it with a read-only root filesystem.
USER node
EXPOSE 3000 9464

FROM runtime AS sandbox
COPY --from=build /app/dist ./dist
COPY examples ./examples
CMD ["node", "dist/src/sandbox.js"]

FROM runtime AS production
COPY --from=build /prod/dist ./dist
# Exec form: node is PID 1 and gets SIGTERM directly, so a role drains and commits offsets on stop.
CMD ["node", "dist/src/main.js"]
