package kind

import (
	"errors"
	"fmt"
	"strings"

	kindexec "sigs.k8s.io/kind/pkg/exec"
)

// runErr makes kind's RunError readable: the command and its output.
func runErr(err error) error {
	var re *kindexec.RunError
	if errors.As(err, &re) {
		out := strings.TrimSpace(string(re.Output))
		if i := strings.LastIndexByte(out, '\n'); i >= 0 {
			out = out[i+1:]
		}
		return fmt.Errorf("%s: %v %s", strings.Join(re.Command, " "), re.Inner, out)
	}
	return err
}
