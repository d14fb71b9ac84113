package integration

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestKindWaitLoadsIntoAClusterCreatedDuringTheBuild: with --kind-wait a
// build starts before its cluster exists (as beside `kind create cluster`);
// the builds go on, and the loads wait for the nodes and then land on
// every one of them.
func TestKindWaitLoadsIntoAClusterCreatedDuringTheBuild(t *testing.T) {
	name := clusterName()
	r := newRepo(t, map[string]string{"alpha": okWith("alpha-waited"), "beta": okWith("beta-waited")}, "")
	done := make(chan result, 1)
	go func() {
		done <- r.slipway(context.Background(), nil, "build", "--cluster", name, "--kind-wait", "4m", "--progress", "plain")
	}()
	// Let the builds start first: the cluster appears only after the run
	// found none.
	time.Sleep(3 * time.Second)
	_, nodes := newClusterNamed(t, name)
	res := <-done
	if res.Code != 0 {
		t.Fatalf("exit %d\n%s", res.Code, res.Stderr)
	}
	for _, svc := range []string{"alpha", "beta"} {
		m := res.Meta.Services[svc]
		if m.Kind == nil || m.Kind.Cluster != name || len(m.Kind.Nodes) != len(nodes) {
			t.Fatalf("%s: metadata lacks the load: %+v", svc, m.Kind)
		}
		for _, n := range nodes {
			if a := m.Kind.Nodes[n]; a != "loaded" {
				t.Errorf("%s on %s: %q, want loaded", svc, n, a)
			}
			if out := nodeExec(t, n, "ctr", "-n", "k8s.io", "images", "ls", "-q"); !strings.Contains(out, m.Image) {
				t.Errorf("%s: %s lacks %s:\n%s", svc, n, m.Image, out)
			}
		}
	}
	if !strings.Contains(res.Stderr, "waiting for Kind cluster "+name) {
		t.Errorf("the run did not say it waited for the cluster:\n%s", res.Stderr)
	}
}

// TestKindWaitGivesUp: a cluster that never comes fails the loads once
// --kind-wait has passed, naming the cluster and the wait; the images are
// built and the run exits 1. --kind-wait without a cluster is a usage
// error.
func TestKindWaitGivesUp(t *testing.T) {
	needEngine(t)
	name := clusterName()
	r := newRepo(t, map[string]string{"alpha": okWith("alpha-never")}, "")
	res := r.slipway(context.Background(), nil, "build", "--cluster", name, "--kind-wait", "5s", "--progress", "plain")
	if res.Code != 1 || !strings.Contains(res.Stderr, `Kind cluster "`+name+`" was not ready to take images within --kind-wait 5s`) {
		t.Fatalf("exit %d, want 1 naming the cluster and the wait:\n%s", res.Code, res.Stderr)
	}
	res = r.slipway(context.Background(), nil, "build", "--kind-wait", "1m")
	if res.Code != 2 || !strings.Contains(res.Stderr, "--kind-wait needs --kind or --cluster") {
		t.Fatalf("exit %d, want 2:\n%s", res.Code, res.Stderr)
	}
}
