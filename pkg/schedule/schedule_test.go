package schedule

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestDependencyOrder(t *testing.T) {
	var mu sync.Mutex
	var order []string
	rec := func(n string) func(context.Context) error {
		return func(context.Context) error {
			time.Sleep(5 * time.Millisecond)
			mu.Lock()
			order = append(order, n)
			mu.Unlock()
			return nil
		}
	}
	tasks := []Task{
		{Name: "app", Deps: []string{"lib", "base"}, Run: rec("app")},
		{Name: "lib", Deps: []string{"base"}, Run: rec("lib")},
		{Name: "base", Run: rec("base")},
	}
	out := Run(context.Background(), tasks, Options{})
	for n, oc := range out {
		if oc.Status != Done {
			t.Fatalf("%s: %v", n, oc)
		}
	}
	pos := map[string]int{}
	for i, n := range order {
		pos[n] = i
	}
	if !(pos["base"] < pos["lib"] && pos["lib"] < pos["app"]) {
		t.Fatalf("wrong order %v", order)
	}
}

func TestFailFastCancelsOthers(t *testing.T) {
	boom := errors.New("boom")
	tasks := []Task{
		{Name: "bad", Run: func(context.Context) error { time.Sleep(10 * time.Millisecond); return boom }},
		{Name: "slow", Run: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }},
		{Name: "after", Deps: []string{"slow"}, Run: func(context.Context) error { return nil }},
	}
	out := Run(context.Background(), tasks, Options{})
	if out["bad"].Status != Failed || !errors.Is(out["bad"].Err, boom) {
		t.Fatalf("bad: %+v", out["bad"])
	}
	if out["slow"].Status != Cancelled {
		t.Fatalf("slow: %+v", out["slow"])
	}
	if s := out["after"].Status; s != Cancelled && s != Skipped {
		t.Fatalf("after: %v", s)
	}
}

func TestKeepGoingReportsEveryFailure(t *testing.T) {
	fail := func(context.Context) error { return errors.New("x") }
	ok := func(context.Context) error { time.Sleep(20 * time.Millisecond); return nil }
	tasks := []Task{
		{Name: "a", Run: fail}, {Name: "b", Run: fail}, {Name: "c", Run: ok},
		{Name: "d", Deps: []string{"a"}, Run: ok},
	}
	out := Run(context.Background(), tasks, Options{KeepGoing: true})
	want := map[string]Status{"a": Failed, "b": Failed, "c": Done, "d": Skipped}
	for n, s := range want {
		if out[n].Status != s {
			t.Errorf("%s: got %s want %s", n, out[n].Status, s)
		}
	}
}

func TestCallerCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	tasks := []Task{{Name: "a", Run: func(ctx context.Context) error { close(started); <-ctx.Done(); return ctx.Err() }}}
	go func() { <-started; cancel() }()
	out := Run(ctx, tasks, Options{})
	if out["a"].Status != Cancelled {
		t.Fatalf("%+v", out["a"])
	}
}
