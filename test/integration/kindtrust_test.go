package integration

// Trust in Kind loading and shared host state (issue 10): locks another Unix
// user can take, a failed import that keeps a fixed tag's old image, a
// stuck node that does not stall the others.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/pkg/engine"
	"github.com/slipway-dev/slipway/pkg/kind"
	"github.com/slipway-dev/slipway/pkg/slots"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
	kindexec "sigs.k8s.io/kind/pkg/exec"
)

// The test binary doubles as a helper run as a second Unix user: init runs
// before TestMain (which builds the CLI, something the other user cannot).
func init() {
	mode := os.Getenv("SLIPWAY_IT_HELPER")
	if mode == "" {
		return
	}
	// The strictest common umask: what one user makes, another must
	// still be able to lock.
	syscall.Umask(0o077)
	err := helper(mode, os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// helper takes a shared lock and holds it for hold, giving up after
// timeout. "nodes PROVIDER NODE..." takes Kind node locks (through
// ImportArchive, with nodes that only read the stream), "slot DIR" takes a
// host build slot. It prints "locked" once it holds the lock.
func helper(mode string, args []string) error {
	hold, _ := time.ParseDuration(os.Getenv("SLIPWAY_IT_HOLD"))
	timeout, _ := time.ParseDuration(os.Getenv("SLIPWAY_IT_TIMEOUT"))
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	switch mode {
	case "nodes":
		c := &kind.Cluster{Name: "helper", Provider: args[0]}
		for _, n := range args[1:] {
			c.Nodes = append(c.Nodes, readingNode(n))
		}
		return kind.ImportArchive(ctx, c, func(ctx context.Context, w io.Writer) error {
			fmt.Println("locked")
			time.Sleep(hold)
			_, err := w.Write([]byte("archive"))
			return err
		})
	case "slot":
		rel, err := slots.Host{Dir: args[0], N: 1, Poll: 20 * time.Millisecond}.Acquire(ctx, nil)
		if err != nil {
			return err
		}
		fmt.Println("locked")
		time.Sleep(hold)
		rel()
		return nil
	}
	return fmt.Errorf("unknown helper %q", mode)
}

// readingNode is a node whose every command reads its stdin and succeeds:
// enough for ImportArchive to take and release the node's lock.
type readingNode string

func (n readingNode) String() string              { return string(n) }
func (n readingNode) Role() (string, error)       { return "worker", nil }
func (n readingNode) IP() (string, string, error) { return "", "", nil }
func (n readingNode) SerialLogs(io.Writer) error  { return nil }
func (n readingNode) Command(c string, a ...string) kindexec.Cmd {
	return n.CommandContext(context.Background(), c, a...)
}
func (n readingNode) CommandContext(context.Context, string, ...string) kindexec.Cmd {
	return &readingCmd{}
}

type readingCmd struct{ in io.Reader }

func (c *readingCmd) Run() error {
	if c.in != nil {
		_, err := io.Copy(io.Discard, c.in)
		return err
	}
	return nil
}
func (c *readingCmd) SetEnv(...string) kindexec.Cmd     { return c }
func (c *readingCmd) SetStdin(r io.Reader) kindexec.Cmd { c.in = r; return c }
func (c *readingCmd) SetStdout(io.Writer) kindexec.Cmd  { return c }
func (c *readingCmd) SetStderr(io.Writer) kindexec.Cmd  { return c }

const otherUser = "slipway-it2"

// secondUser returns the credential of a second Unix user (made if
// missing) and a copy of this test binary that user may run.
func secondUser(t *testing.T) (*syscall.Credential, string) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Fatalf("the multi-user tests run as root (to act as a second user); uid is %d", os.Getuid())
	}
	u, err := user.Lookup(otherUser)
	if err != nil {
		if out, err := exec.Command("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", otherUser).CombinedOutput(); err != nil {
			t.Fatalf("useradd %s: %v %s", otherUser, err, out)
		}
		if u, err = user.Lookup(otherUser); err != nil {
			t.Fatal(err)
		}
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	dir, err := os.MkdirTemp("", "slipway-it-helper-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "helper")
	if err := os.WriteFile(exe, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, exe
}

// helperProc is a running helper.
type helperProc struct {
	cmd    *exec.Cmd
	locked chan struct{}
	out    strings.Builder
	done   chan error
}

// startHelper runs the helper as cred (nil: this user).
func startHelper(t *testing.T, exe string, cred *syscall.Credential, mode string, hold, timeout time.Duration, args ...string) *helperProc {
	t.Helper()
	cmd := exec.Command(exe, args...)
	cmd.Env = []string{"SLIPWAY_IT_HELPER=" + mode, "SLIPWAY_IT_HOLD=" + hold.String(), "SLIPWAY_IT_TIMEOUT=" + timeout.String(),
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/", "TMPDIR=/tmp"}
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	h := &helperProc{cmd: cmd, locked: make(chan struct{}), done: make(chan error, 1)}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	cmd.Stderr = writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return h.out.Write(p) })
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the helper: %v", err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "locked" {
				close(h.locked)
			}
		}
		h.done <- cmd.Wait()
	}()
	return h
}

func (h *helperProc) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-h.done:
		if err != nil {
			return fmt.Errorf("%v: %s", err, strings.TrimSpace(h.out.String()))
		}
		return nil
	case <-time.After(60 * time.Second):
		h.cmd.Process.Kill()
		t.Fatal("the helper hung")
		return nil
	}
}

// sharedLockTest checks that a lock root took first is one the second user
// can take too: while root holds it the other user waits (the same lock,
// not a private copy), and once root lets go the other user gets it.
func sharedLockTest(t *testing.T, mode string, args ...string) {
	cred, exe := secondUser(t)
	// Root makes the lock files first, as the first user of a machine does.
	if err := startHelper(t, exe, nil, mode, 0, 10*time.Second, args...).wait(t); err != nil {
		t.Fatalf("root: %v", err)
	}
	// Root holds it long enough for the second user's process to start
	// and give up even on a loaded machine (at load 70 a 3 s hold ended
	// before the second process asked).
	holder := startHelper(t, exe, nil, mode, 20*time.Second, 10*time.Second, args...)
	select {
	case <-holder.locked:
	case <-time.After(30 * time.Second):
		t.Fatal("root never got the lock")
	}
	err := startHelper(t, exe, cred, mode, 0, time.Second, args...).wait(t)
	if err == nil {
		t.Fatal("the second user took a lock root was holding")
	}
	if !strings.Contains(err.Error(), "deadline exceeded") {
		t.Fatalf("the second user could not use the lock at all: %v", err)
	}
	if err := holder.wait(t); err != nil {
		t.Fatalf("root holder: %v", err)
	}
	if err := startHelper(t, exe, cred, mode, 0, 20*time.Second, args...).wait(t); err != nil {
		t.Fatalf("the second user cannot take the lock root made: %v", err)
	}
	// And the other way round: files the second user made work for root.
	fresh := append([]string(nil), args...)
	fresh[len(fresh)-1] += "-b"
	if mode == "slot" {
		fresh = args // a slot folder has fixed names
	}
	if err := startHelper(t, exe, cred, mode, 0, 20*time.Second, fresh...).wait(t); err != nil {
		t.Fatalf("second user, new lock: %v", err)
	}
	if err := startHelper(t, exe, nil, mode, 0, 20*time.Second, fresh...).wait(t); err != nil {
		t.Fatalf("root, a lock the second user made: %v", err)
	}
}

// Node locks live in one folder per host that every user shares.
func TestNodeLocksSharedBetweenUnixUsers(t *testing.T) {
	node := fmt.Sprintf("swlock%d-control-plane", time.Now().UnixNano()%1000000)
	sharedLockTest(t, "nodes", "docker", node)
	for _, n := range []string{node, node + "-b"} {
		os.Remove(filepath.Join("/run/lock/slipway", "docker-"+n+".lock"))
		os.Remove(filepath.Join(os.TempDir(), "slipway-lock", "docker-"+n+".lock"))
	}
}

// Host build slots are shared by every user too.
func TestHostSlotsSharedBetweenUnixUsers(t *testing.T) {
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("slipway-it-slots-%d", time.Now().UnixNano()))
	t.Cleanup(func() { os.RemoveAll(dir) })
	sharedLockTest(t, "slot", dir)
}

// buildImage builds ref from a Dockerfile body with docker and removes it
// when the test ends.
func buildImage(t *testing.T, ref, dockerfile string) *engine.Image {
	t.Helper()
	cmd := exec.Command("docker", "build", "-q", "-t", ref, "-")
	cmd.Stdin = strings.NewReader(dockerfile)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", ref, err, out)
	}
	t.Cleanup(func() { exec.Command("docker", "image", "rm", "-f", ref).Run() })
	return inspect(t, ref)
}

// saverFunc adapts a function to kind.Saver.
type saverFunc func(ctx context.Context, w io.Writer, refs ...string) error

func (f saverFunc) Save(ctx context.Context, w io.Writer, refs ...string) error {
	return f(ctx, w, refs...)
}

// afterBytes calls f once, from inside Write, when n bytes have passed.
type afterBytes struct {
	w    io.Writer
	n    int64
	seen int64
	once sync.Once
	f    func() error
}

func (a *afterBytes) Write(p []byte) (int, error) {
	a.seen += int64(len(p))
	if a.seen >= a.n {
		var err error
		a.once.Do(func() { err = a.f() })
		if err != nil {
			return 0, err
		}
	}
	return a.w.Write(p)
}

func findCluster(t *testing.T, name string) *kind.Cluster {
	t.Helper()
	c, err := kind.Find(context.Background(), name, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func nodeImageID(t *testing.T, node, ref string) string {
	t.Helper()
	out, err := exec.Command("docker", "exec", node, "crictl", "inspecti", "-o", "go-template", "--template", "{{.status.id}}", ref).CombinedOutput()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// A load that breaks mid-stream must not take a fixed tag (":dev", which
// pods use) away from the image the node held under it before.
func TestFailedImportKeepsTheFixedTagsOldImage(t *testing.T) {
	name, nodeNames := newCluster(t)
	c := findCluster(t, name)
	eng := needEngine(t)
	stamp := time.Now().UnixNano()
	fixed := fmt.Sprintf("slipway.local/it/fixed%d:dev", stamp)
	older := buildImage(t, fixed, fmt.Sprintf("FROM %s\nRUN echo old-%d > /v\n", BaseImage, stamp))
	if _, err := kind.LoadAll(context.Background(), c, eng, []kind.Image{{Ref: fixed, ID: older.ID}}); err != nil {
		t.Fatalf("first load: %v", err)
	}
	newer := buildImage(t, fixed, fmt.Sprintf("FROM %s\nRUN echo new-%d > /v\n", BaseImage, stamp))
	fresh := fmt.Sprintf("slipway.local/it/fresh%d:1", stamp)
	if err := exec.Command("docker", "tag", fixed, fresh).Run(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exec.Command("docker", "image", "rm", "-f", fresh).Run() })
	broken := saverFunc(func(ctx context.Context, w io.Writer, refs ...string) error {
		return eng.Save(ctx, &afterBytes{w: w, n: 4 << 20, f: func() error { return errors.New("the engine died mid-save") }}, refs...)
	})
	_, err := kind.LoadAll(context.Background(), c, broken, []kind.Image{{Ref: fixed, ID: newer.ID}, {Ref: fresh, ID: newer.ID}})
	if err == nil || !strings.Contains(err.Error(), "died mid-save") {
		t.Fatalf("a broken save was not reported: %v", err)
	}
	for _, n := range nodeNames {
		if got := nodeImageID(t, n, fixed); got != older.ID {
			t.Errorf("%s: %s now names %q, want the old image %s", n, fixed, got, older.ID)
		}
		if got := nodeImageID(t, n, fresh); got != "" {
			t.Errorf("%s: %s left behind by the failed load (%s)", n, fresh, got)
		}
	}
}

// A node that stops reading (paused) or dies mid-stream is cut off and
// reported; the other node finishes its load.
func TestStuckNodeDoesNotStallTheOthers(t *testing.T) {
	eng := needEngine(t)
	stamp := time.Now().UnixNano()
	// Random bytes: far more than the pipes between here and containerd hold.
	big := fmt.Sprintf("slipway.local/it/big%d:1", stamp)
	img := buildImage(t, big, fmt.Sprintf("FROM %s\nRUN head -c 96M /dev/urandom > /blob && echo %d > /v\n", BaseImage, stamp))
	old := kind.StallTimeout
	kind.StallTimeout = 3 * time.Second
	t.Cleanup(func() { kind.StallTimeout = old })
	for _, how := range []string{"pause", "kill"} {
		t.Run(how, func(t *testing.T) {
			name, nodeNames := newCluster(t)
			c := findCluster(t, name)
			stuck, ok := nodeNames[1], nodeNames[0]
			t.Cleanup(func() { exec.Command("docker", "unpause", stuck).Run() })
			s := saverFunc(func(ctx context.Context, w io.Writer, refs ...string) error {
				return eng.Save(ctx, &afterBytes{w: w, n: 2 << 20, f: func() error {
					if out, err := exec.Command("docker", how, stuck).CombinedOutput(); err != nil {
						t.Errorf("docker %s: %v %s", how, err, out)
					}
					return nil
				}}, refs...)
			})
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			start := time.Now()
			out, err := kind.LoadAll(ctx, c, s, []kind.Image{{Ref: big, ID: img.ID}})
			t.Logf("load with a %s node: %s", map[string]string{"pause": "paused", "kill": "killed"}[how], time.Since(start).Round(time.Millisecond))
			if ctx.Err() != nil {
				t.Fatal("the load stalled")
			}
			if out[big][ok] != kind.Loaded {
				t.Errorf("the healthy node: %v (err %v)", out[big], err)
			}
			if a, found := out[big][stuck]; found {
				t.Errorf("the %sd node reported %q", how, a)
			}
			var ne *kind.NodeError
			if err == nil || !errors.As(err, &ne) || ne.Node != stuck {
				t.Fatalf("the %sd node is not the error: %v", how, err)
			}
			if how == "pause" && !errors.Is(err, kind.ErrStalled) {
				t.Errorf("a paused node is not reported as stalled: %v", err)
			}
			if got := nodeImageID(t, ok, big); got != img.ID {
				t.Errorf("healthy node lists %q for %s", got, big)
			}
		})
	}
}

var _ nodes.Node = readingNode("")
