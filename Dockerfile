# The bridge: one image, every role. ROLES picks what a container runs (all | ingest,outbound,...).
# Debian bookworm (glibc 2.36): the uWebSockets.js build in package.json ships Node 20 binaries
# for it; Alpine (musl) would not load them.

FROM node:24.22.3-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bench ./bench
COPY schemas ./schemas
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:24.22.3-bookworm-slim
ENV NODE_ENV=production \
    HTTP_PORT=3000
WORKDIR /app
# package.json marks the project root, where the code finds schemas/ and migrations/ at run time.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY schemas ./schemas
COPY migrations ./migrations
USER node
EXPOSE 3000
# Exec form: node is PID 1 and gets SIGTERM directly, so a role drains and commits offsets on stop.
CMD ["node", "dist/src/main.js"]
