package engine

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
)

var pushDigestRE = regexp.MustCompile(`digest: (sha256:[0-9a-f]{64})`)

// Push sends ref to its registry with the engine's own credentials (its
// login store); none pass through slipway. It returns the pushed digest.
func (e *Engine) Push(ctx context.Context, ref string, log io.Writer) (string, error) {
	if e.API != nil {
		return e.API.apiPush(ctx, ref, log)
	}
	var out bytes.Buffer
	w := NewSinks(&out, log) // a failing log must not fail the command
	cmd := GroupCommand(ctx, e.Bin, "push", ref)
	cmd.Stdout, cmd.Stderr = w, w
	if err := RunGroup(cmd); err != nil {
		return "", fmt.Errorf("%s push %s: %v: %s", e.Name, ref, err, lastLine(out.String()))
	}
	m := pushDigestRE.FindStringSubmatch(out.String())
	if m == nil {
		return "", nil
	}
	return m[1], nil
}

// Pull fetches ref (for platform, if set) into the engine.
func (e *Engine) Pull(ctx context.Context, ref, platform string, log io.Writer) error {
	if e.API != nil {
		return e.API.apiPull(ctx, ref, platform, log)
	}
	args := []string{"pull"}
	if platform != "" {
		args = append(args, "--platform", platform)
	}
	var out bytes.Buffer
	w := NewSinks(&out, log) // a failing log must not fail the command
	cmd := GroupCommand(ctx, e.Bin, append(args, ref)...)
	cmd.Stdout, cmd.Stderr = w, w
	if err := RunGroup(cmd); err != nil {
		return fmt.Errorf("%s pull %s: %v: %s", e.Name, ref, err, lastLine(out.String()))
	}
	return nil
}

// BuilderPlatforms returns the platforms a buildx builder ("" for the
// default) can build, or an error when there is no such builder.
func (e *Engine) BuilderPlatforms(ctx context.Context, builder string) ([]string, error) {
	args := []string{"buildx", "inspect"}
	if builder != "" {
		args = append(args, builder)
	}
	out, err := e.output(ctx, args...)
	if err != nil {
		return nil, fmt.Errorf("no buildx builder %q: %v", builder, err)
	}
	var plats []string
	for _, l := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(l), "Platforms:"); ok {
			for _, p := range strings.Split(rest, ",") {
				if p = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(p), "*")); p != "" {
					plats = append(plats, p)
				}
			}
		}
	}
	return plats, nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
