// aianalysis: analyses incidents. Uses uuid (v5 ids are deterministic).
package main

import (
	"github.com/google/uuid"

	"example.com/fleet/internal/greet"
)

func main() {
	id := uuid.NewSHA1(uuid.NameSpaceOID, []byte("aianalysis"))
	greet.Print("aianalysis", "uuid="+id.String())
}
