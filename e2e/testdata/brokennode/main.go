// Command brokennode stands for a broken node release in the update tests:
// it exits at start with a non-zero status, as a build for the wrong board
// or one missing a library would.
package main

import (
	"fmt"
	"os"
)

var version = "broken"

func main() {
	fmt.Fprintln(os.Stderr, "radio-node", version, "cannot start: broken build")
	os.Exit(3)
}
