package pipeline

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/internal/plan"
	"github.com/slipway-dev/slipway/pkg/engine"
	"github.com/slipway-dev/slipway/pkg/engine/enginefake"
)

// slowInspect counts Inspect calls and makes each take a while, as a busy
// daemon does, so that services starting together overlap.
type slowInspect struct {
	engine.Client
	calls atomic.Int32
}

func (s *slowInspect) Inspect(ctx context.Context, ref string) (*engine.Image, error) {
	s.calls.Add(1)
	time.Sleep(50 * time.Millisecond)
	return s.Client.Inspect(ctx, ref)
}

// Eight services that share a base image and start at once ask the engine
// about it once, not once each.
func TestResolveAsksOncePerBaseImage(t *testing.T) {
	fake := enginefake.New()
	fake.Add("sha256:base", nil, "example.local/base:1")
	eng := &slowInspect{Client: fake}
	rn := &runner{plan: &plan.Plan{Eng: eng}}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			id, ok := rn.resolve(context.Background(), "example.local/base:1")
			if !ok || id != "sha256:base" {
				t.Errorf("resolve = %q, %v; want sha256:base, true", id, ok)
			}
		})
	}
	wg.Wait()
	if _, ok := rn.resolve(context.Background(), "example.local/missing:1"); ok {
		t.Error("a missing base image resolved")
	}
	if n := eng.calls.Load(); n != 2 {
		t.Errorf("engine asked %d times for 2 base images", n)
	}
}
