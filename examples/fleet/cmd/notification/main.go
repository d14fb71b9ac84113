// notification: sends notifications. Standard library only.
package main

import (
	"strconv"

	"example.com/fleet/internal/greet"
)

func main() {
	channels := []string{"email", "slack"}
	greet.Print("notification", "channels="+strconv.Itoa(len(channels)))
}
