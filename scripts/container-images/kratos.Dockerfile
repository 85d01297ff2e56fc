# Stand-in for oryd/kratos:<version>, built by scripts/container-images.sh where no registry is
# reachable: the binary the stack builds (scripts/stack-install.mjs) at /usr/bin/kratos as in the
# official image, ENTRYPOINT kratos, CMD serve, user ory (uid 10000) owning /var/lib/sqlite so a
# named volume mounted there is writable. The official image's Kratos is built by Ory's release
# pipeline; this one by `go build` of the same version.
ARG BASE
FROM ${BASE}
COPY kratos /usr/bin/kratos
RUN echo 'ory:x:10000:' >> /etc/group && echo 'ory:x:10000:10000::/home/ory:/usr/sbin/nologin' >> /etc/passwd \
 && mkdir -p /home/ory /var/lib/sqlite && chown 10000:10000 /home/ory /var/lib/sqlite && kratos version
USER 10000:10000
EXPOSE 4433 4434
ENTRYPOINT ["kratos"]
CMD ["serve"]
