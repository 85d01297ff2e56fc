// A plain Caddy with its standard modules, built from the pinned Go module (go.mod, go.sum) so
// the proxy suite runs the real forward_auth without a download from outside the module proxy.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

func main() {
	caddycmd.Main()
}
