# noms-ipfs (static, CGO off) and the pause binary that holds each
# docker-compose peer's network namespace, in an empty image.
FROM scratch
LABEL org.noms-ipfs.built-by=scripts/docker-images.sh
COPY noms-ipfs pause /usr/local/bin/
ENV PATH=/usr/local/bin NOMS_IPFS_HOME=/home IPFS_TELEMETRY=off
ENTRYPOINT ["/usr/local/bin/noms-ipfs"]
