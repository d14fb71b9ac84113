package faults

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// bigImage is a Dockerfile with an incompressible layer of mb megabytes,
// different on every --no-cache build.
func bigImage(mb int) string {
	return fmt.Sprintf("FROM %s\nRUN head -c %dM /dev/urandom > /big && echo big > /msg\nCMD [\"cat\", \"/msg\"]\n", BaseImage, mb)
}

// whenStreaming waits until a process carrying mark runs an import on a
// node (the stream has begun) and reports whether it saw one.
func whenStreaming(mark string, d time.Duration) bool {
	return waitFor(d, func() bool {
		for _, c := range marked(mark) {
			if strings.Contains(c, "import") {
				return true
			}
		}
		return false
	})
}

// ingesting waits until node's containerd is writing content (an import's
// stream has reached it) and reports whether it saw that.
func ingesting(host, node string, d time.Duration) bool {
	return waitFor(d, func() bool {
		out, err := dockerCmd(host, "exec", node, "ctr", "-n", "k8s.io", "content", "active").Output()
		return err == nil && len(strings.Fields(string(out))) > 3 // more than the header
	})
}

// restartNode starts a killed node container again and waits for its CRI.
func restartNode(t *testing.T, host, node string) {
	t.Helper()
	docker(t, host, "start", node)
	if !waitFor(60*time.Second, func() bool { return dockerCmd(host, "exec", node, "crictl", "images").Run() == nil }) {
		t.Fatalf("node %s did not come back", node)
	}
}

// TestNodeKilledMidStream covers issue 10's "kill a node container
// mid-stream" (and the defect "one Kind node that stops reading stalls
// every node's load with no watchdog"): with three nodes taking one
// stream, one node is killed while the image flows; the others must end
// with the image under its ref and the right ID, the command must fail and
// name the dead node, and nothing may hang.
func TestNodeKilledMidStream(t *testing.T) {
	fig := newFigure(t, "node-killed-mid-stream")
	cluster, nodes := kindNodes(t, "", 2)
	victim := nodes[len(nodes)-1]
	r := newRepo(t, map[string]string{"big": bigImage(64)}, "")
	const tries = 2
	for try := range tries {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		b := r.slipway(ctx, []string{"USER=nodekill"}, "build", "--no-cache", "--progress", "quiet")
		cancel()
		t.Logf("try %d: build took %s", try, b.Elapsed.Round(time.Millisecond))
		if b.Code != 0 {
			t.Fatalf("try %d: build: %s", try, b)
		}
		img := b.Meta.Services["big"]

		mark := fmt.Sprintf("SLIPWAY_FAULT_MARK=nodekill-%d-%d", os.Getpid(), time.Now().UnixNano())
		// "Hung" means well past the stall timeout (20 s here, so the dead
		// node is given up on soon) plus a slow machine's load of the
		// live nodes: a shared 2-core runner at load 70 needs ~1.5 min.
		ctx, cancel = context.WithTimeout(context.Background(), 4*time.Minute)
		cmd, _ := r.command(ctx, []string{"USER=nodekill", mark, "SLIPWAY_NODE_STALL_TIMEOUT=20s"}, "load", "--cluster", cluster, "big")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		var so, se bytes.Buffer
		cmd.Stdout, cmd.Stderr = &so, &se
		start := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill once bytes flow into the victim's containerd.
		streaming := whenStreaming(mark, 60*time.Second) && ingesting("", victim, 30*time.Second)
		t.Logf("try %d: streaming %s after the load started; killing %s", try, time.Since(start).Round(time.Millisecond), victim)
		killed := exec.Command("docker", "kill", victim).Run() == nil
		res := finish(t, cmd, &so, &se, "", start)
		hung := ctx.Err() != nil
		cancel()
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		if !streaming || !killed {
			t.Fatalf("try %d: the stream never started (%v) or the node could not be killed (%v):\n%s", try, streaming, killed, res)
		}

		failed, lost := 0, 0
		out := res.Stdout + res.Stderr
		switch {
		case hung:
			failed = 1
			t.Errorf("try %d: the load hung after %s was killed: %s", try, victim, res)
		case res.Code == 0:
			failed = 1
			t.Errorf("try %d: exit 0 with %s killed mid-stream: %s", try, victim, res)
		case !strings.Contains(out, victim):
			failed = 1
			t.Errorf("try %d: the failure does not name the dead node %s: %s", try, victim, res)
		}
		for _, n := range nodes[:len(nodes)-1] {
			if id := nodeImageID("", n, img.Image); id != img.ID {
				lost++
				t.Errorf("try %d: live node %s holds %s as %q, want %s", try, n, img.Image, id, img.ID)
			}
		}
		fig.add(1, failed, lost)
		t.Logf("try %d: exit %d in %s:\n%s", try, res.Code, res.Elapsed.Round(time.Millisecond), strings.TrimSpace(out))
		restartNode(t, "", victim)
		t.Logf("try %d: node back", try)
		if try < tries-1 {
			continue
		}
		// The revived node takes the image on the next load.
		ctx, cancel = context.WithTimeout(context.Background(), 4*time.Minute)
		again := r.slipway(ctx, []string{"USER=nodekill"}, "load", "--cluster", cluster, "big")
		cancel()
		t.Logf("try %d: load again took %s", try, again.Elapsed.Round(time.Millisecond))
		if id := nodeImageID("", victim, img.Image); again.Code != 0 || id != img.ID {
			fig.add(0, 1, 0)
			t.Errorf("try %d: loading again after the node came back: node has %q: %s", try, id, again)
		}
	}
	fig.note("%d-node cluster, 64 MB layer, node killed once its containerd is ingesting", len(nodes))
}
