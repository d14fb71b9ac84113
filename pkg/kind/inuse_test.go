package kind

import "testing"

// A real kubelet keeps the exited containers of replaced pods until its GC:
// their images are not in use. Containers of Ready pods, the Ready pods'
// own sandboxes and containers the CRI did not make (ctr run) are.
func TestParseInUse(t *testing.T) {
	out := `CONTAINER    IMAGE                          RUNTIME
old          example.local/app:v1           io.containerd.runc.v2
new          example.local/app:v2           io.containerd.runc.v2
sbold        registry.k8s.io/pause:3.10     io.containerd.runc.v2
sbnew        registry.k8s.io/pause:3.10     io.containerd.runc.v2
plain        example.local/tool:1           io.containerd.runc.v2
` + inUseSep + `
{"items": [{"id": "sbold", "state": "SANDBOX_NOTREADY"}, {"id": "sbnew", "state": "SANDBOX_READY"}]}
` + inUseSep + `
{"containers": [{"id": "old", "podSandboxId": "sbold"}, {"id": "new", "podSandboxId": "sbnew"}]}
`
	got := parseInUse(out)
	for ref, want := range map[string]bool{
		"example.local/app:v1": false, "example.local/app:v2": true,
		"registry.k8s.io/pause:3.10": true, "example.local/tool:1": true,
	} {
		if got[ref] != want {
			t.Errorf("%s in use: %v, want %v (all: %v)", ref, got[ref], want, got)
		}
	}
	// No CRI answer: every container counts.
	noCRI := parseInUse("CONTAINER IMAGE RUNTIME\nold example.local/app:v1 x\n" + inUseSep + "\n")
	if !noCRI["example.local/app:v1"] {
		t.Errorf("without the CRI a container's image must count: %v", noCRI)
	}
}
