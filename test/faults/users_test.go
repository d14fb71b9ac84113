package faults

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// unixUser is one account of the host, created when missing (accounts stay
// after the suite; they are cheap and the next run reuses them).
type unixUser struct {
	Name     string
	UID, GID uint32
	Groups   []uint32
	Home     string
}

func ensureUser(t *testing.T, name string) unixUser {
	t.Helper()
	if _, err := user.Lookup(name); err != nil {
		if out, err := exec.Command("useradd", "-m", "-s", "/bin/sh", "-G", "docker", name).CombinedOutput(); err != nil {
			t.Fatalf("useradd %s (the suite runs as root): %v %s", name, err, out)
		}
	} else if out, err := exec.Command("usermod", "-aG", "docker", name).CombinedOutput(); err != nil {
		t.Fatalf("usermod %s: %v %s", name, err, out)
	}
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	uu := unixUser{Name: name, UID: uint32(uid), GID: uint32(gid), Home: u.HomeDir}
	gids, _ := u.GroupIds()
	for _, g := range gids {
		n, _ := strconv.ParseUint(g, 10, 32)
		uu.Groups = append(uu.Groups, uint32(n))
	}
	return uu
}

// as runs the CLI in r as u, with u's HOME and USER and state folder state.
func (r *repo) as(ctx context.Context, u unixUser, state string, env []string, args ...string) result {
	r.t.Helper()
	cmd, meta := r.command(ctx, append([]string{"HOME=" + u.Home, "USER=" + u.Name, "LOGNAME=" + u.Name,
		"SLIPWAY_STATE_DIR=" + state}, env...), args...)
	if meta != "" {
		// The metadata file must be writable by u: put it in u's state folder.
		meta = filepath.Join(state, filepath.Base(meta))
		cmd.Args[len(cmd.Args)-1] = meta
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: u.UID, Gid: u.GID, Groups: u.Groups}}
	return runCmd(r.t, cmd, meta)
}

// TestUsersShareHost covers issue 10's "5 Unix users sharing the host" (and
// the defect "node lock files are created 0600 in a 0755 folder: a second
// Unix user cannot load at all"): five accounts build the same repository
// at once under one host slot and load into the same Kind-shaped cluster;
// the builds never overlap, every load succeeds, and a prune by one user
// leaves every other user's images in the engine and on the node.
func TestUsersShareHost(t *testing.T) {
	fig := newFigure(t, "5-users-share-host")
	const n = 5
	var users []unixUser
	for i := 1; i <= n; i++ {
		users = append(users, ensureUser(t, fmt.Sprintf("slipwayu%d", i)))
	}
	cluster, nodes := kindNodes(t, "", 0)
	r := newRepo(t, map[string]string{
		"svc": "FROM " + BaseImage + "\nARG WHO\nRUN sleep 1 && echo $WHO > /msg\nCMD [\"cat\", \"/msg\"]\n",
	}, "")
	// Every user's state folder, owned by that user; host slots in a fresh
	// shared folder (as in /tmp) so only this test's runs count.
	slotsDir := publicTempDir(t)
	os.Chmod(slotsDir, 0o777|os.ModeSticky)
	states := make([]string, n)
	for i, u := range users {
		states[i] = filepath.Join(publicTempDir(t), "state")
		os.Mkdir(states[i], 0o755)
		os.Chown(states[i], int(u.UID), int(u.GID))
	}
	env := []string{"SLIPWAY_HOST_JOBS=1", "SLIPWAY_HOST_SLOTS_DIR=" + filepath.Join(slotsDir, "slots")}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	results := make([]result, n)
	var wg sync.WaitGroup
	for i, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = r.as(ctx, u, states[i], env, "build", "--no-cache", "--progress", "plain", "--kind="+cluster)
		}()
	}
	wg.Wait()

	failed, lost := 0, 0
	type span struct{ from, to time.Time }
	var spans []span
	for i, res := range results {
		s := res.Meta.Services["svc"]
		if res.Code != 0 || s == nil {
			failed++
			t.Errorf("%s: build --kind: %s", users[i].Name, res)
			fig.note("%s: exit %d %.120s", users[i].Name, res.Code, lastLine(res.Stderr))
			continue
		}
		t.Logf("%s: %s %s, kind %+v", users[i].Name, s.Status, s.Image, s.Kind)
		if s.Started != nil {
			spans = append(spans, span{*s.Started, s.Started.Add(time.Duration(s.DurationMS) * time.Millisecond)})
		}
		if id := nodeImageID("", nodes[0], s.Image); id != s.ID {
			failed++
			t.Errorf("%s: node holds %s as %q, want %s", users[i].Name, s.Image, id, s.ID)
		}
	}
	// Host slots: one build at a time across all five users. A build's span
	// includes its wait for the engine to export, so allow a small overlap.
	sort.Slice(spans, func(i, j int) bool { return spans[i].from.Before(spans[j].from) })
	overlaps := 0
	for i := 1; i < len(spans); i++ {
		if spans[i].from.Before(spans[i-1].to.Add(-300 * time.Millisecond)) {
			overlaps++
		}
	}
	if overlaps > 0 {
		failed++
		t.Errorf("builds of different users overlapped %d times under SLIPWAY_HOST_JOBS=1: %v", overlaps, spans)
	}
	if len(spans) < n && failed == 0 {
		t.Errorf("only %d of %d records say when their build started", len(spans), n)
	}

	// Prune by the first user: only that user's images go.
	pr := r.as(ctx, users[0], states[0], env, "prune", "--older-than", "0s", "--kind", cluster)
	t.Logf("%s: prune: exit %d\n%s", users[0].Name, pr.Code, pr.Stdout)
	if pr.Code != 0 {
		failed++
		t.Errorf("%s: prune: %s", users[0].Name, pr)
	}
	for i, res := range results {
		s := res.Meta.Services["svc"]
		if s == nil {
			continue
		}
		inEngine, onNode := imageID("", s.Image) != "", nodeImageID("", nodes[0], s.Image) != ""
		if i == 0 {
			if pr.Code == 0 && (inEngine || onNode) {
				failed++
				t.Errorf("%s's own %s survived its prune (engine %v, node %v)", users[0].Name, s.Image, inEngine, onNode)
			}
			continue
		}
		if !inEngine || !onNode {
			lost++
			t.Errorf("%s's prune removed %s of %s (engine %v, node %v)", users[0].Name, s.Image, users[i].Name, inEngine, onNode)
		}
	}
	fig.add(n, failed, lost)
	fig.note("%d users, SLIPWAY_HOST_JOBS=1, %d overlaps, one shared node", n, overlaps)
	if strings.Contains(fmt.Sprint(results), "permission denied") {
		fig.note("permission denied seen")
	}
}
