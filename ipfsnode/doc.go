// Package ipfsnode connects noms-ipfs to Kubo: either a running daemon over
// its HTTP RPC API (with a keep-alive client, unlike the stock one), or a Kubo
// node embedded in this process with its own repo. Both give the same
// coreiface.CoreAPI, so the packages above (ipfsstore, headstore) serve both.
//
// It owns only connecting, starting and stopping; what is stored is the
// business of ipfsstore.
//
//	n, err := ipfsnode.Connect(ctx, "")             // $IPFS_API, $IPFS_PATH/api or ~/.ipfs/api
//	n, err := ipfsnode.StartEmbedded(ctx, ipfsnode.EmbeddedConfig{Repo: dir})
//	defer n.Close()
//	api := n.API()
package ipfsnode
