# The cluster tests' probe (docker/probe): it runs in a peer's network
# namespace (docker run --network container:<peer>) and talks to that
# peer's Kubo on loopback.
FROM scratch
LABEL org.noms-ipfs.built-by=scripts/docker-images.sh
COPY noms-ipfs-probe /usr/local/bin/
ENV PATH=/usr/local/bin
ENTRYPOINT ["/usr/local/bin/noms-ipfs-probe"]
