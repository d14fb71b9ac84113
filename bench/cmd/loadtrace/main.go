// Command loadtrace times one kind.LoadAll of the given images into a
// cluster, printing every node command it runs with its start and length
// (for finding where a one-layer load's time goes; issue 14).
//
//	loadtrace CLUSTER REF...
//
// FRESH=1 marks the images just built (the save starts with the look);
// EACH=1 loads them one after another in this one process (as a watch).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/kind/pkg/cluster/nodes"
	kindexec "sigs.k8s.io/kind/pkg/exec"

	"github.com/slipway-dev/slipway/pkg/engine"
	"github.com/slipway-dev/slipway/pkg/kind"
)

var (
	start = time.Now()
	mu    sync.Mutex
)

func logf(format string, a ...any) {
	mu.Lock()
	defer mu.Unlock()
	fmt.Fprintf(os.Stderr, "%7.3f "+format+"\n", append([]any{time.Since(start).Seconds()}, a...)...)
}

type node struct{ nodes.Node }

func (n node) CommandContext(ctx context.Context, c string, a ...string) kindexec.Cmd {
	return &cmd{Cmd: n.Node.CommandContext(ctx, c, a...), desc: n.String() + " " + c + " " + strings.Join(a, " ")}
}

type cmd struct {
	kindexec.Cmd
	desc string
}

func (c *cmd) SetStdin(r io.Reader) kindexec.Cmd  { c.Cmd.SetStdin(r); return c }
func (c *cmd) SetStdout(w io.Writer) kindexec.Cmd { c.Cmd.SetStdout(w); return c }
func (c *cmd) SetStderr(w io.Writer) kindexec.Cmd { c.Cmd.SetStderr(w); return c }
func (c *cmd) Run() error {
	t := time.Now()
	err := c.Cmd.Run()
	d := c.desc
	if len(d) > 90 {
		d = d[:90]
	}
	logf("%6.3fs %s (%v)", time.Since(t).Seconds(), d, err)
	return err
}

type saver struct{ e *engine.Engine }

func (s saver) Save(ctx context.Context, w io.Writer, refs ...string) error {
	t := time.Now()
	err := s.e.Save(ctx, w, refs...)
	logf("%6.3fs save (%v)", time.Since(t).Seconds(), err)
	return err
}

func main() {
	ctx := context.Background()
	c, err := kind.Find(ctx, os.Args[1], nil)
	if err != nil {
		panic(err)
	}
	for i, n := range c.Nodes {
		c.Nodes[i] = node{n}
	}
	e, err := engine.Detect(ctx, "docker")
	if err != nil {
		panic(err)
	}
	var imgs []kind.Image
	for _, ref := range os.Args[2:] {
		ii, err := e.Inspect(ctx, ref)
		if err != nil {
			panic(err)
		}
		imgs = append(imgs, kind.Image{Ref: ref, ID: ii.ID, Layers: ii.Layers, Fresh: os.Getenv("FRESH") != ""})
	}
	if os.Getenv("EACH") == "" {
		start = time.Now()
		acts, err := kind.LoadAll(ctx, c, saver{e}, imgs)
		logf("done %v %v", acts, err)
		return
	}
	// One load after another in this process, as a watch makes them.
	for _, img := range imgs {
		start = time.Now()
		acts, err := kind.LoadAll(ctx, c, saver{e}, []kind.Image{img})
		logf("done %v %v", acts, err)
	}
}
