package slots

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Lock files shared by every Unix user of the machine (host build slots,
// Kind node locks) live in a folder like /tmp: mode 1777, so anyone can
// create a file there and nobody can remove another's. The files are 0666,
// but they are opened read-only: flock(2) needs no write access, so a lock
// file another user made with a stricter umask still works. An existing
// file is opened without O_CREAT, because with fs.protected_regular the
// kernel refuses O_CREAT on another user's file in a sticky folder.

// SharedDirMode is the mode of a folder of shared lock files.
const SharedDirMode = 0o777 | fs.ModeSticky

// SharedDir makes dir (and missing parents) a folder every user can create
// lock files in. It is created under a temporary name, given its mode (the
// umask would narrow a plain mkdir) and renamed into place, so no user ever
// sees it half made. A folder that exists with a narrower mode is widened
// if this user owns it, and is an error naming the fix otherwise.
func SharedDir(dir string) error {
	for attempt := 0; ; attempt++ {
		fi, err := os.Lstat(dir)
		if err == nil {
			return checkShared(dir, fi)
		}
		if !errors.Is(err, fs.ErrNotExist) || attempt > 3 {
			return fmt.Errorf("lock folder %s: %w", dir, err)
		}
		parent := filepath.Dir(dir)
		if err := os.MkdirAll(parent, 0o755); err != nil {
			return fmt.Errorf("lock folder %s: %w", dir, err)
		}
		tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+"-new-*")
		if err != nil {
			return fmt.Errorf("lock folder %s: %w", dir, err)
		}
		if err := os.Chmod(tmp, SharedDirMode); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("lock folder %s: %w", dir, err)
		}
		err = renameNoReplace(tmp, dir)
		if err != nil {
			os.Remove(tmp)
		}
		switch {
		case err == nil:
			return nil
		case errors.Is(err, syscall.EEXIST) || errors.Is(err, syscall.ENOTEMPTY):
			continue // another process made it first: check theirs
		default:
			return fmt.Errorf("lock folder %s: %w", dir, err)
		}
	}
}

// renameNoReplace renames a folder into place unless something is there
// already; plain rename(2) would replace an empty folder someone else just
// made (and a process may be about to create its lock file in it).
func renameNoReplace(from, to string) error {
	err := renameat2(from, to)
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOSYS) {
		// The file system cannot refuse to replace: make the folder in
		// place, then widen it. Others retry through checkShared's wait.
		os.Remove(from)
		if err := os.Mkdir(to, 0o700); err != nil {
			return err
		}
		return os.Chmod(to, SharedDirMode)
	}
	return err
}

// checkShared accepts dir if it is a real folder with mode 1777, widening
// it when this user owns it. A folder another process has just made may
// not be widened yet, so a narrow one is looked at again for a moment.
func checkShared(dir string, fi fs.FileInfo) error {
	for wait := 0; ; wait++ {
		if !fi.IsDir() {
			return fmt.Errorf("lock folder %s is not a folder (remove it)", dir)
		}
		if fi.Mode().Perm() == 0o777 && fi.Mode()&fs.ModeSticky != 0 {
			return nil
		}
		if owner(fi) == os.Getuid() {
			if err := os.Chmod(dir, SharedDirMode); err != nil {
				return fmt.Errorf("lock folder %s: %w", dir, err)
			}
			return nil
		}
		if wait >= 20 {
			return fmt.Errorf("lock folder %s has mode %v and belongs to uid %d, so other users cannot lock in it: run `chmod 1777 %s` as its owner or root",
				dir, fi.Mode(), owner(fi), dir)
		}
		time.Sleep(50 * time.Millisecond)
		var err error
		if fi, err = os.Lstat(dir); err != nil {
			return fmt.Errorf("lock folder %s: %w", dir, err)
		}
	}
}

func owner(fi fs.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}

// FileLock is an exclusive flock(2) on a shared lock file.
type FileLock struct {
	f *os.File
}

// Unlock releases the lock; closing the file drops it.
func (l *FileLock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// openShared opens (creating if needed, mode 0666 whatever the umask) the
// lock file at path for flock. It never follows a symlink: in a folder
// anyone can write, a link could point at another user's file.
func openShared(path string) (*os.File, error) {
	for attempt := 0; ; attempt++ {
		f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
		if err == nil {
			widen(f)
			return f, nil
		}
		if !errors.Is(err, fs.ErrNotExist) || attempt > 3 {
			if errors.Is(err, fs.ErrPermission) {
				if fi, serr := os.Lstat(path); serr == nil {
					return nil, fmt.Errorf("lock file %s has mode %v and belongs to uid %d: run `chmod 0666 %s` as its owner or root: %w",
						path, fi.Mode(), owner(fi), path, err)
				}
			}
			return nil, err
		}
		f, err = os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o666)
		if errors.Is(err, fs.ErrExist) {
			continue // made by someone else meanwhile: open theirs
		}
		if err != nil {
			return nil, err
		}
		widen(f)
		return f, nil
	}
}

// widen makes a lock file this user owns 0666 (the umask narrowed it, or an
// older slipway made it 0600), so other users can open it.
func widen(f *os.File) {
	if fi, err := f.Stat(); err == nil && owner(fi) == os.Getuid() && fi.Mode().Perm() != 0o666 {
		_ = f.Chmod(0o666)
	}
}

// TryLockShared takes path's lock if it is free, without waiting; a held
// lock is (nil, nil).
func TryLockShared(path string) (*FileLock, error) {
	f, err := openShared(path)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if errors.Is(err, syscall.EWOULDBLOCK) {
		f.Close()
		return nil, nil
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return &FileLock{f: f}, nil
}

// LockShared waits for path's lock, polling, until ctx ends.
func LockShared(ctx context.Context, path string, poll time.Duration) (*FileLock, error) {
	for {
		l, err := TryLockShared(path)
		if err != nil || l != nil {
			return l, err
		}
		select {
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-time.After(poll):
		}
	}
}

func renameat2(from, to string) error {
	return unix.Renameat2(unix.AT_FDCWD, from, unix.AT_FDCWD, to, unix.RENAME_NOREPLACE)
}
