package ipfsnode

import "errors"

// ErrNoDaemon is returned by Connect when no API address was given and none
// was found in the environment or Kubo's repo: no daemon is known to run.
var ErrNoDaemon = errors.New("no Kubo daemon found (set --api, $IPFS_API, or run `ipfs daemon`)")
