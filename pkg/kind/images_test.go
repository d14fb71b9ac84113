package kind

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	kindexec "sigs.k8s.io/kind/pkg/exec"
)

// shellNode runs a node's commands on this machine, with PATH pointing at
// fake node CLIs: the real scripts run against them.
type shellNode struct {
	fakeNode
	path string
}

func (n *shellNode) CommandContext(ctx context.Context, c string, a ...string) kindexec.Cmd {
	cmd := exec.CommandContext(ctx, c, a...)
	cmd.Env = append(os.Environ(), "PATH="+n.path+":/usr/bin:/bin")
	return &shellCmd{cmd}
}

type shellCmd struct{ *exec.Cmd }

func (c *shellCmd) Run() error                         { return c.Cmd.Run() }
func (c *shellCmd) SetEnv(e ...string) kindexec.Cmd    { c.Env = append(c.Env, e...); return c }
func (c *shellCmd) SetStdin(r io.Reader) kindexec.Cmd  { c.Stdin = r; return c }
func (c *shellCmd) SetStdout(w io.Writer) kindexec.Cmd { c.Stdout = w; return c }
func (c *shellCmd) SetStderr(w io.Writer) kindexec.Cmd { c.Stderr = w; return c }

// An image removed between the node's listing and its inspection (a
// concurrent clean, the kubelet's GC) is left out, not an error; an
// image that is still there but cannot be inspected is one.
func TestImagesToleratesImagesRemovedMeanwhile(t *testing.T) {
	dir := t.TempDir()
	crictl := `#!/bin/sh
case "$1" in
images) printf 'sha256:a\nsha256:b\n'; [ -e "$STILL" ] && printf 'sha256:gone\n'; [ -e "$LISTED" ] || { touch "$LISTED"; printf 'sha256:gone\n'; } ;;
inspecti)
  case "$4" in
  sha256:gone) echo "image not found" >&2; exit 1 ;;
  *) printf '{"status":{"id":"%s","repoTags":["x/%s:1"],"size":"5"},"info":{"imageSpec":{"config":{"Labels":{"k":"v"}}}}}\n' "$4" "$4" ;;
  esac ;;
esac
`
	if err := os.WriteFile(filepath.Join(dir, "crictl"), []byte(crictl), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LISTED", filepath.Join(t.TempDir(), "listed"))
	t.Setenv("STILL", filepath.Join(t.TempDir(), "never"))
	n := &shellNode{fakeNode: fakeNode{name: "n"}, path: dir}
	imgs, err := Images(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 2 || imgs[0].ID != "sha256:a" || imgs[1].ID != "sha256:b" || imgs[1].Labels["k"] != "v" {
		t.Errorf("images %+v", imgs)
	}
	// Still listed yet not inspectable: a real failure.
	still := filepath.Join(t.TempDir(), "still")
	os.WriteFile(still, nil, 0o644)
	t.Setenv("STILL", still)
	if _, err := Images(context.Background(), n); err == nil {
		t.Error("an image that is there but cannot be inspected was skipped")
	}
}
