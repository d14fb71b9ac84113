package faults

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// dockerd2 is a second Docker daemon (scripts/lib/dockerd2.sh) this test
// may kill: the main one serves everybody else on the machine.
type dockerd2 struct {
	t    *testing.T
	Dir  string
	Host string
}

func (d *dockerd2) script(verb string) (string, error) {
	out, err := exec.Command(filepath.Join(repoDir, "scripts", "lib", "dockerd2.sh"), verb, d.Dir).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// startDockerd2 starts the second daemon with refs copied in from the main
// one; it is stopped, its bridge deleted and its folder removed when the
// test ends.
func startDockerd2(t *testing.T, refs ...string) *dockerd2 {
	t.Helper()
	needImages(t, "", refs...)
	// Short: the containerd socket under it must fit a unix socket path.
	d := &dockerd2{t: t, Dir: fmt.Sprintf("/tmp/swd2-%d", time.Now().UnixNano()%1000000)}
	t.Cleanup(func() {
		if t.Failed() {
			// What the daemon said, before stop removes its folder.
			b, _ := os.ReadFile(filepath.Join(d.Dir, "dockerd.log"))
			link, err := exec.Command("ip", "-br", "link", "show", "type", "bridge").CombinedOutput()
			if err != nil {
				link = append(link, []byte(err.Error())...)
			}
			t.Logf("second dockerd's log (end):\n%s\nbridges now:\n%s", lastLines(string(b), 40), link)
		}
		if out, err := d.script("stop"); err != nil {
			t.Errorf("stopping the second dockerd: %v\n%s", err, out)
		}
	})
	d.start()
	for _, ref := range refs {
		save := exec.Command("docker", "save", ref)
		load := dockerCmd(d.Host, "load", "-q")
		pipe, err := save.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		load.Stdin = pipe
		var se, le bytes.Buffer
		save.Stderr, load.Stderr = &se, &le
		if err := save.Start(); err != nil {
			t.Fatal(err)
		}
		lerr := load.Run()
		if err := save.Wait(); err != nil || lerr != nil {
			t.Fatalf("copying %s into the second dockerd: %v %v\n%s%s", ref, err, lerr, se.String(), le.String())
		}
	}
	return d
}

func (d *dockerd2) start() {
	d.t.Helper()
	out, err := d.script("start")
	if err != nil {
		d.t.Fatalf("starting the second dockerd: %v\n%s", err, out)
	}
	d.Host = lastLine(out)
}

// kill SIGKILLs the daemon (the fault).
func (d *dockerd2) kill() {
	d.t.Helper()
	if out, err := d.script("kill"); err != nil {
		d.t.Fatalf("killing the second dockerd: %v\n%s", err, out)
	}
}

// newestRun is the newest run folder's name under state.
func newestRun(state string) string {
	ents, _ := os.ReadDir(filepath.Join(state, "runs"))
	for i := len(ents) - 1; i >= 0; i-- {
		if ents[i].IsDir() && !strings.HasPrefix(ents[i].Name(), ".") {
			return ents[i].Name()
		}
	}
	return ""
}

// startMarked starts cmd in its own process group with mark in its
// environment; the returned func waits for it.
func startMarked(t *testing.T, cmd *exec.Cmd, mark string) func() result {
	t.Helper()
	cmd.Env = append(cmd.Env, mark)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return func() result {
		res := finish(t, cmd, &so, &se, "", start)
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		return res
	}
}

// TestDockerdKilled covers issue 10's "kill dockerd mid-build and
// mid-load": against a second daemon, SIGKILLed while a build runs and
// while an image streams into Kind-shaped nodes on it. Each time the run
// must end with a clear error (not hang), leave no image under this run's
// ref that is incomplete (in the engine or on a node), lose nothing that
// was there before, and after the daemon restarts the next run must work.
func TestDockerdKilled(t *testing.T) {
	// Not parallel: twice, run beside the parallel scenarios, the second
	// daemon's bridge vanished after its restart (cause unknown; never when
	// run on its own).
	fig := newFigure(t, "dockerd-killed")
	t0 := time.Now()
	d := startDockerd2(t, BaseImage, NodeImage)
	t.Logf("second dockerd up with %s and %s in %s", BaseImage, NodeImage, time.Since(t0).Round(time.Millisecond))

	t.Run("mid-build", func(t *testing.T) {
		r := newRepo(t, map[string]string{"slow": "FROM " + BaseImage + "\nRUN echo build-start && sleep 30 && echo done > /msg\nCMD [\"cat\", \"/msg\"]\n"}, "")
		r.Host = d.Host
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		mark := fmt.Sprintf("SLIPWAY_FAULT_MARK=dockerd-build-%d", time.Now().UnixNano())
		cmd, meta := r.command(ctx, []string{"USER=dkill"}, "build", "--progress", "plain")
		wait := startMarked(t, cmd, mark)
		started := waitFor(90*time.Second, func() bool {
			id := newestRun(r.State)
			b, _ := os.ReadFile(filepath.Join(r.State, "runs", id, "logs", "slow.log"))
			return id != "" && bytes.Contains(b, []byte("build-start"))
		})
		if !started {
			res := wait()
			t.Fatalf("the build never started: %s", res)
		}
		d.kill()
		res := wait()
		id := newestRun(r.State)
		failed, lost := 0, 0
		switch {
		case ctx.Err() != nil:
			failed = 1
			t.Errorf("the build hung after dockerd died: %s", res)
		case res.Code == 0:
			failed = 1
			t.Errorf("exit 0 with dockerd killed mid-build: %s", res)
		case !strings.Contains(res.Stderr, "slow") || strings.Contains(res.Stderr, "panic"):
			failed = 1
			t.Errorf("the error does not say which build failed: %s", res)
		}
		t.Logf("mid-build: exit %d in %s:\n%s", res.Code, res.Elapsed.Round(time.Millisecond), lastLines(res.Stderr, 3))

		d.start()
		rec, _ := readRecord(r.State, id)
		refs := imagesLabelled(t, d.Host, "dev.slipway.run="+id)
		for _, s := range rec.Services {
			if s.Image != "" {
				refs = append(refs, s.Image)
			}
		}
		if b, err := os.ReadFile(meta); err == nil && len(b) > 0 {
			t.Logf("metadata after the kill: %s", b)
		}
		for _, ref := range refs {
			if strings.HasPrefix(ref, "<none>") || imageID(d.Host, ref) == "" {
				continue
			}
			// The only acceptable image under this run's ref is a whole one.
			out, err := dockerCmd(d.Host, "run", "--rm", ref).CombinedOutput()
			if err != nil || strings.TrimSpace(string(out)) != "done" {
				lost++
				t.Errorf("half-tagged image after the kill: %s (%v: %s)", ref, err, out)
			}
		}
		// The next run works once the daemon is back.
		writeFile(t, filepath.Join(r.Dir, "slow.Dockerfile"), "FROM "+BaseImage+"\nRUN echo done > /msg\nCMD [\"cat\", \"/msg\"]\n")
		next := r.slipway(ctx, []string{"USER=dkill"}, "build", "--progress", "quiet")
		if s := next.Meta.Services["slow"]; next.Code != 0 || s == nil {
			failed = 1
			t.Errorf("the next build after dockerd restarted: %s", next)
		} else if out, err := dockerCmd(d.Host, "run", "--rm", s.Image).CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "done" {
			failed = 1
			t.Errorf("the next build's %s does not run: %v %s", s.Image, err, out)
		}
		fig.add(1, failed, lost)
		if failed+lost > 0 {
			fig.note("mid-build: exit %d %.100s", res.Code, lastLine(res.Stderr))
		}
	})

	t.Run("mid-load", func(t *testing.T) {
		t0 := time.Now()
		cluster, nodes := kindNodes(t, d.Host, 1)
		r := newRepo(t, map[string]string{"big": bigImage(64)}, "")
		r.Host = d.Host
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
		defer cancel()
		b := r.slipway(ctx, []string{"USER=dkill"}, "build", "--progress", "quiet")
		if b.Code != 0 || b.Meta.Services["big"] == nil {
			t.Fatalf("build on the second dockerd: %s", b)
		}
		img := b.Meta.Services["big"]
		t.Logf("nodes up and %s built in %s", img.Image, time.Since(t0).Round(time.Millisecond))
		t0 = time.Now()

		mark := fmt.Sprintf("SLIPWAY_FAULT_MARK=dockerd-load-%d", time.Now().UnixNano())
		cmd, _ := r.command(ctx, []string{"USER=dkill"}, "load", "--cluster", cluster, "big")
		wait := startMarked(t, cmd, mark)
		// Kill once bytes flow into a node's containerd.
		streaming := whenStreaming(mark, 60*time.Second) && ingesting(d.Host, nodes[len(nodes)-1], 30*time.Second)
		d.kill()
		res := wait()
		if !streaming {
			t.Fatalf("the stream never started: %s", res)
		}
		failed, lost := 0, 0
		switch {
		case ctx.Err() != nil:
			failed = 1
			t.Errorf("the load hung after dockerd died: %s", res)
		case res.Code == 0:
			failed = 1
			t.Errorf("exit 0 with dockerd killed mid-load: %s", res)
		case strings.TrimSpace(res.Stderr) == "" || strings.Contains(res.Stderr, "panic"):
			failed = 1
			t.Errorf("no clear error: %s", res)
		}
		t.Logf("mid-load: exit %d in %s:\n%s", res.Code, res.Elapsed.Round(time.Millisecond), lastLines(res.Stdout+res.Stderr, 3))

		d.start()
		for _, n := range nodes {
			restartNode(t, d.Host, n)
		}
		t.Logf("dockerd and nodes back in %s", time.Since(t0).Round(time.Millisecond))
		if imageID(d.Host, img.Image) != img.ID {
			lost++
			t.Errorf("the engine lost %s", img.Image)
		}
		// On each node the ref is absent, or names the whole image.
		for _, n := range nodes {
			list, _ := dockerCmd(d.Host, "exec", n, "ctr", "-n", "k8s.io", "images", "ls", "-q").Output()
			if !strings.Contains(string(list), img.Image) {
				continue
			}
			id := nodeImageID(d.Host, n, img.Image)
			check, _ := dockerCmd(d.Host, "exec", n, "ctr", "-n", "k8s.io", "images", "check", "name=="+img.Image).CombinedOutput()
			if id != img.ID || !strings.Contains(string(check), "complete") {
				lost++
				t.Errorf("half-loaded image on %s: %s id %q (want %s), check: %s", n, img.Image, id, img.ID, check)
			}
		}
		// Its own deadline: on a loaded machine the steps above can use up
		// most of the subtest's, and a slow load is not the fault tested.
		nctx, ncancel := context.WithTimeout(context.Background(), 4*time.Minute)
		next := r.slipway(nctx, []string{"USER=dkill"}, "load", "--cluster", cluster, "big")
		ncancel()
		if next.Code != 0 {
			failed = 1
			t.Errorf("the next load after dockerd restarted: %s", next)
		}
		for _, n := range nodes {
			if id := nodeImageID(d.Host, n, img.Image); id != img.ID {
				failed = 1
				t.Errorf("after the next load, %s holds %s as %q, want %s", n, img.Image, id, img.ID)
			}
		}
		fig.add(1, failed, lost)
		if failed+lost > 0 {
			fig.note("mid-load: exit %d %.100s", res.Code, lastLine(res.Stderr))
		}
	})
}
