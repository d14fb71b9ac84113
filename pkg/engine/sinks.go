package engine

import (
	"errors"
	"fmt"
	"io"
	"sync"
)

// Sinks copies a child process's output to several writers (a log file, a
// progress line, a caller's writer) and never fails: a writer that errors
// is dropped, the rest keep receiving, and one note saying so goes to them.
// A failing Write would otherwise make os/exec stop draining the child, so
// the child dies on a broken pipe and a good build is reported failed;
// whether the child succeeded is for its exit status alone to say.
type Sinks struct {
	mu   sync.Mutex
	ws   []io.Writer
	errs []error
}

// NewSinks returns a Sinks writing to every non-nil w.
func NewSinks(ws ...io.Writer) *Sinks {
	s := &Sinks{}
	for _, w := range ws {
		if w != nil {
			s.ws = append(s.ws, w)
		}
	}
	return s
}

// Write writes p to every live writer and always reports success.
func (s *Sinks) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var failed []error
	for i, w := range s.ws {
		if w == nil {
			continue
		}
		n, err := w.Write(p)
		if err == nil && n < len(p) {
			err = io.ErrShortWrite
		}
		if err != nil {
			s.ws[i] = nil
			failed = append(failed, err)
		}
	}
	for _, err := range failed {
		s.errs = append(s.errs, err)
		note := fmt.Appendf(nil, "\nslipway: a log output failed and is no longer written (%v); the build goes on\n", err)
		for i, w := range s.ws {
			if w == nil {
				continue
			}
			if _, err := w.Write(note); err != nil {
				s.ws[i] = nil
				s.errs = append(s.errs, err)
			}
		}
	}
	return len(p), nil
}

// Err is every error a dropped writer returned, or nil.
func (s *Sinks) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(s.errs...)
}
