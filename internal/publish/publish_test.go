package publish

import (
	"context"
	"errors"
	"io"
	"slices"
	"testing"

	"github.com/slipway-dev/slipway/pkg/engine/enginefake"
	"github.com/slipway-dev/slipway/pkg/progress"
)

type failing struct{ err error }

func (f failing) Publish(context.Context, Image, *Delivery) error { return f.err }

func TestRegistryPushesOnceAndMultiStopsAtAnError(t *testing.T) {
	eng := enginefake.New()
	eng.Add("sha256:x", nil, "localhost:5000/demo-api:t1")
	var steps []progress.State
	img := Image{Service: "api", Ref: "localhost:5000/demo-api:t1", ID: "sha256:x", Log: io.Discard,
		Report: func(s progress.State, _ string) { steps = append(steps, s) }}
	d := &Delivery{}
	boom := errors.New("boom")
	err := Multi{Registry{Eng: eng}, failing{boom}, Registry{Eng: eng}}.Publish(context.Background(), img, d)
	if !errors.Is(err, boom) || d.Pushed != "sha256:x" {
		t.Fatalf("err %v, delivery %+v", err, d)
	}
	// A second delivery (the dependency was pushed before its dependents
	// built) does not push again.
	if err := (Registry{Eng: eng}).Publish(context.Background(), img, d); err != nil {
		t.Fatal(err)
	}
	pushes := 0
	for _, c := range eng.Calls() {
		if c == "push "+img.Ref {
			pushes++
		}
	}
	if pushes != 1 || !slices.Equal(steps, []progress.State{progress.Pushing, progress.Pushed}) {
		t.Fatalf("%d pushes, steps %v", pushes, steps)
	}
	if err := (Registry{Eng: eng}).Publish(context.Background(), Image{Service: "gone", Ref: "localhost:5000/nope:1"}, &Delivery{}); err == nil {
		t.Fatal("pushing a missing image succeeded")
	}
}
