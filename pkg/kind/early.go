package kind

import (
	"context"
	"errors"
	"io"
	"slices"
	"sync"
)

// An engine's save does not start writing at once: Docker 20.10 first
// copies every layer of the images into a temp folder (about 1 s for a
// 120 MB image here), and only then streams. For images just built, which
// no node holds yet, that wait can run alongside the look at the nodes
// rather than after it. earlySave is such a save, started before it is
// known to be needed; when the look shows it is not (the nodes had the
// image, or want a different set), it is cancelled.
type earlySave struct {
	refs   []string // sorted
	cancel context.CancelFunc
	pr     *io.PipeReader
	done   chan error
	mu     sync.Mutex
	taken  bool
}

// startEarly starts saving refs into a pipe that nothing reads yet.
func startEarly(ctx context.Context, s Saver, refs []string) *earlySave {
	ctx, cancel := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	e := &earlySave{refs: slices.Sorted(slices.Values(refs)), cancel: cancel, pr: pr, done: make(chan error, 1)}
	go func() {
		err := s.Save(ctx, pw, refs...)
		pw.CloseWithError(err)
		e.done <- err
	}()
	return e
}

// matches reports whether e saves exactly refs.
func (e *earlySave) matches(refs []string) bool {
	return e != nil && slices.Equal(e.refs, slices.Sorted(slices.Values(refs)))
}

var errNotTaken = errors.New("early save not needed")

// take returns a writer of the early save if it saves exactly refs and was
// not taken before; otherwise nil. The writer copies the save's stream to
// w and returns the save's error.
func (e *earlySave) take(refs []string) func(context.Context, io.Writer) error {
	if !e.matches(refs) {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.taken {
		return nil
	}
	e.taken = true
	return func(ctx context.Context, w io.Writer) error {
		defer e.cancel()
		stop := context.AfterFunc(ctx, func() { e.pr.CloseWithError(context.Cause(ctx)) })
		defer stop()
		_, err := io.Copy(w, e.pr)
		if err != nil {
			e.cancel() // the reader went away: stop the engine's save too
			e.pr.CloseWithError(err)
		}
		if serr := <-e.done; serr != nil && err == nil {
			err = serr
		}
		return err
	}
}

// stop cancels the save if nobody took it and waits for it to end, so no
// save outlives the load.
func (e *earlySave) stop() {
	if e == nil {
		return
	}
	e.mu.Lock()
	taken := e.taken
	e.taken = true
	e.mu.Unlock()
	if taken {
		return // its writer waits for it, or ends it when its reader goes
	}
	e.cancel()
	e.pr.CloseWithError(errNotTaken)
	<-e.done
}
