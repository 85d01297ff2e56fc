# The product Dockerfile's BUILD_IMAGE where no registry is reachable (scripts/container-images.sh):
# its Node image plus the lockfile's packages in root's npm cache, with npm told to stay offline,
# so `npm ci` in the build stages installs from the cache under `docker build --network none`.
ARG NODE_IMAGE
FROM ${NODE_IMAGE}
COPY npm-cache/_cacache /root/.npm/_cacache
ENV npm_config_offline=true
