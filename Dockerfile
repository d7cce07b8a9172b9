# The CDS service image. Build: docker build -t lumbar-mri-cds .   Run: see docker-compose.yml.
FROM node:20.19.0-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# The CLI's serve-fhir and survey run the test FHIR server from tools/ (compiled beside src/).
COPY tools ./tools
COPY scripts/build-playground.ts ./scripts/build-playground.ts
COPY playground/src ./playground/src
RUN npm run build

FROM node:20.19.0-slim
ENV NODE_ENV=production
# The image authenticates CDS clients: mount a trusted clients file and set CDS_TRUSTED_CLIENTS.
ENV CDS_AUTH=required
# A container's port is reached from outside it: listen on every interface explicitly.
ENV HOST=0.0.0.0
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY --from=build /app/playground/dist ./playground/dist
COPY cds-services ./cds-services
COPY fixtures ./fixtures
COPY bin ./bin
# Decision records (SQLite, or its outbox in front of DATABASE_URL) live under .data/; the non-root user owns it.
RUN mkdir -p /app/.data && chown node:node /app/.data
USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/src/server.js"]
