# Stand-in for the official node:<version>-bookworm-slim, built by scripts/container-images.sh
# where no registry is reachable: the same paths (/usr/local/bin/node, npm, npx) and the same
# unprivileged user node (uid/gid 1000, home /home/node); no yarn, no docker-entrypoint.sh (CMD
# is node, as the official entrypoint would run it).
ARG BASE
FROM ${BASE}
COPY node/bin/node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && echo 'node:x:1000:' >> /etc/group \
 && echo 'node:x:1000:1000::/home/node:/bin/bash' >> /etc/passwd \
 && mkdir -p /home/node && chown 1000:1000 /home/node \
 && node --version && npm --version
CMD ["node"]
