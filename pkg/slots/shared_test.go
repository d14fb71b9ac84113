package slots

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// Host slots are shared by every user of the machine: however narrow the
// umask of the process that made them, the folder is 1777 and the slot
// files 0666, or a second user could not take a slot at all.
func TestHostSlotFilesAreSharedWhateverTheUmask(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "a", "slots")
	rel, err := Host{Dir: dir, N: 1}.Acquire(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rel()
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&(fs.ModePerm|fs.ModeSticky) != SharedDirMode {
		t.Errorf("slot folder mode %v, want %v", fi.Mode(), fs.FileMode(SharedDirMode))
	}
	fi, err = os.Stat(filepath.Join(dir, "slot-0"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o666 {
		t.Errorf("slot file mode %v, want 0666", fi.Mode())
	}
}

// A folder or lock file left narrow by an older slipway is widened by its
// owner on the next use.
func TestSharedLockWidensOldFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "locks")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "x.lock")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := SharedDir(dir); err != nil {
		t.Fatal(err)
	}
	l, err := TryLockShared(p)
	if err != nil || l == nil {
		t.Fatalf("lock: %v %v", l, err)
	}
	if again, err := TryLockShared(p); err != nil || again != nil {
		t.Fatalf("a held lock was taken again: %v %v", again, err)
	}
	l.Unlock()
	for path, want := range map[string]fs.FileMode{dir: SharedDirMode, p: 0o666} {
		fi, _ := os.Stat(path)
		if got := fi.Mode() & (fs.ModePerm | fs.ModeSticky); got != want {
			t.Errorf("%s: mode %v, want %v", path, got, want)
		}
	}
	// A symlink is never followed in a folder anyone can write.
	link := filepath.Join(dir, "link.lock")
	os.Symlink(p, link)
	if l, err := TryLockShared(link); err == nil {
		l.Unlock()
		t.Error("a symlinked lock file was followed")
	}
}
