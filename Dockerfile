# Bulwark's image: built in one stage, run in another without the compiler, the dev dependencies or
# root. Base images are not pulled by these build machines (see docs/deploy.md); build where a
# registry is reachable: `docker build -t bulwark .`
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Scripts off: `prepare` would build before the sources are here. Native parts (argon2, sharp)
# come as prebuilt optional packages, not install scripts.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build && npm prune --omit=dev --ignore-scripts

FROM node:20-bookworm-slim
# MALLOC_ARENA_MAX=2: glibc otherwise keeps a malloc arena per thread (V8's compiler and GC
# threads, the password hasher's), and what they freed stays with the process: less idle memory
# (docs/deploy.md, "Sizing"). glibc reads it at process start only.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    DATA_DIR=/data \
    MALLOC_ARENA_MAX=2
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The code is root's and read-only to the process; only /data is the process's to write.
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/main.js", "start"]
