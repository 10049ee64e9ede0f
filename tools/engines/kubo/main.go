// kubo's `ipfs` command, built as a dependency so that kubo's own go.mod replace (a go-libp2p fork the module
// proxy does not serve) does not apply.
package main

import (
	"os"

	"github.com/ipfs/kubo/cmd/ipfs/kubo"
)

func main() {
	os.Exit(kubo.Start(kubo.BuildDefaultEnv))
}
