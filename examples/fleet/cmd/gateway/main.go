// gateway: edge service. Uses pflag for its flags and uuid for request ids.
package main

import (
	"strconv"

	"github.com/google/uuid"
	"github.com/spf13/pflag"

	"example.com/fleet/internal/greet"
)

func main() {
	port := pflag.Int("port", 8080, "listen port")
	pflag.Parse()
	id := uuid.NewSHA1(uuid.NameSpaceURL, []byte("gateway"))
	greet.Print("gateway", "port="+strconv.Itoa(*port), "id="+id.String()[:8])
}
