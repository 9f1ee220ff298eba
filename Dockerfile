# syntax=docker/dockerfile:1
#
# One Dockerfile, two images:
#   docker build -t relaycluster/silo .                                  (default: the last stage, `silo`)
#   docker build -t relaycluster/mockupstream --target mockupstream .
#
# Build context must be the repository root (see .dockerignore).

ARG DOTNET_VERSION=10.0

# ---- restore inputs -------------------------------------------------------------------------------
# Only project and props files decide what `dotnet restore` downloads. Copying the whole tree here and
# deleting everything else keeps new projects (e.g. a future src/RelayCluster.Redis) picked up without
# editing this file, while the COPY --from below is content-addressed: source edits leave the restore
# layer cached.
FROM mcr.microsoft.com/dotnet/sdk:${DOTNET_VERSION} AS restore-inputs
WORKDIR /src
COPY . .
RUN find . -type f ! -name '*.csproj' ! -name '*.props' ! -name '*.targets' ! -name 'global.json' ! -iname 'nuget.config' -delete \
 && find . -type d -empty -delete

# ---- build ----------------------------------------------------------------------------------------
FROM mcr.microsoft.com/dotnet/sdk:${DOTNET_VERSION} AS build
ENV DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
WORKDIR /src
COPY --from=restore-inputs /src ./
# A cache mount keeps the NuGet package folder across builds even when the restore layer is invalidated.
RUN --mount=type=cache,id=nuget,target=/root/.nuget/packages \
    dotnet restore src/RelayCluster.Silo/RelayCluster.Silo.csproj \
 && dotnet restore src/RelayCluster.MockUpstream/RelayCluster.MockUpstream.csproj
COPY src/ src/
RUN --mount=type=cache,id=nuget,target=/root/.nuget/packages \
    dotnet publish src/RelayCluster.Silo -c Release --no-restore -o /out/silo /p:UseAppHost=false \
 && dotnet publish src/RelayCluster.MockUpstream -c Release --no-restore -o /out/mockupstream /p:UseAppHost=false

# ---- runtime base ---------------------------------------------------------------------------------
# The aspnet image has no HTTP client; curl (a few MB) lets Docker and compose probe /healthz without
# starting a second dotnet process per check.
FROM mcr.microsoft.com/dotnet/aspnet:${DOTNET_VERSION} AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends curl \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app

# ---- mockupstream ---------------------------------------------------------------------------------
FROM runtime AS mockupstream
COPY --from=build /out/mockupstream ./
USER $APP_UID
EXPOSE 9000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD curl -fsS -o /dev/null http://127.0.0.1:9000/v1/models || exit 1
ENTRYPOINT ["dotnet", "RelayCluster.MockUpstream.dll", "--urls", "http://0.0.0.0:9000"]

# ---- silo (default target) ------------------------------------------------------------------------
FROM runtime AS silo
COPY --from=build /out/silo ./
# The per-silo usage log defaults to ./data/usage and the shared file store is mounted at /data/files;
# both must be writable by the unprivileged `app` user (UID $APP_UID, defined by the base image). A
# named volume mounted on /data/files starts out with this ownership. No VOLUME instruction: it would
# leave an anonymous volume behind every container; compose and Kubernetes mount it explicitly.
RUN mkdir -p /app/data /data/files \
 && chown -R $APP_UID:$APP_UID /app/data /data
# Kestrel must bind every interface in a container. This has to be the unprefixed `Urls` key: the
# silo's appsettings.json sets Urls=http://127.0.0.1:8080 and appsettings outranks ASPNETCORE_URLS,
# whereas plain environment variables outrank appsettings.
ENV Urls=http://0.0.0.0:8080 \
    Relay__Files__Path=/data/files
USER $APP_UID
EXPOSE 8080
# Liveness only: readiness (/readyz, Redis reachable) is for the load balancer or orchestrator to act
# on, not a reason for Docker to mark the container unhealthy.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
    CMD curl -fsS -o /dev/null http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["dotnet", "RelayCluster.Silo.dll"]
