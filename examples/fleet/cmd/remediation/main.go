// remediation: applies fixes. Standard library only.
package main

import (
	"runtime"

	"example.com/fleet/internal/greet"
)

func main() {
	greet.Print("remediation", "platform="+runtime.GOOS+"/"+runtime.GOARCH)
}
