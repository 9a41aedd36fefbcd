# Kubo as a static binary in an empty image: no registry is needed to build
# it (scripts/docker-images.sh copies in .bin/ipfs, which
# scripts/install-kubo.sh builds from the Go module proxy). It runs like the
# official ipfs/kubo image: IPFS_PATH=/data/ipfs, `ipfs` on PATH, and the
# command line is ipfs's arguments (docker-compose.yml: daemon ...).
FROM scratch
LABEL org.noms-ipfs.built-by=scripts/docker-images.sh
COPY ipfs /usr/local/bin/ipfs
ENV PATH=/usr/local/bin IPFS_PATH=/data/ipfs IPFS_TELEMETRY=off
VOLUME /data/ipfs
ENTRYPOINT ["/usr/local/bin/ipfs"]
CMD ["daemon", "--migrate=false"]
