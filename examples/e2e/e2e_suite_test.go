// Package e2e_test is an example Ginkgo E2E suite that uses the slipway
// library: process 1 creates a cluster and, at the same time,
// builds the fleet example's "e2e" group in parallel, loading each image
// into the cluster as soon as its build is done; every process then runs
// specs against the images; process 1 finally cleans up exactly the images
// this run made and deletes the cluster.
//
// Run it with `go test ./examples/e2e/ -v` or `ginkgo -v ./examples/e2e`
// (add -p to spread the specs over several processes).
//
// The cluster is Kind-shaped nodes (scripts/kind-nodes.sh: containerd, no
// kubelet; fast) unless SLIPWAY_E2E_NODE_IMAGE names a Kind node image:
// then it is a real Kind cluster (`kind create cluster --image`, one
// control plane, one worker) and the specs also run each image as a pod
// (imagePullPolicy: Never) until it is Ready. SLIPWAY_E2E_NODE_IMAGE=build
// takes the image scripts/kind-node-image.sh builds here from source; a
// normal Kind installation's kindest/node image works unchanged.
package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/slipway-dev/slipway"
	"github.com/slipway-dev/slipway/pkg/progress"
)

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "slipway example E2E suite")
}

// e2eServices is the fleet example's "e2e" group. Ginkgo builds its spec
// tree before any suite node runs, so the per-service specs are listed
// here; a spec checks that the build produced exactly these.
var e2eServices = []string{"gateway", "datastorage", "aianalysis"}

// realNodeImage is SLIPWAY_E2E_NODE_IMAGE: "" for Kind-shaped nodes, else
// the node image of a real Kind cluster ("build": scripts/kind-node-image.sh).
// Read when the spec tree is built, so every process agrees.
var realNodeImage = os.Getenv("SLIPWAY_E2E_NODE_IMAGE")

// shared is what process 1 hands every process after the build.
type shared struct {
	Cluster string            `json:"cluster"`
	Real    bool              `json:"real"`   // a real Kind cluster (a kubelet)
	Images  map[string]string `json:"images"` // service -> image reference
	Status  map[string]string `json:"status"` // service -> built / reused
	LogDir  string            `json:"logDir"` // per-service build logs (Options.Logs)
}

var (
	suite shared

	// Process 1 only: what SynchronizedAfterSuite cleans up.
	buildResult *slipway.Result
	stateDir    string
	tmpDir      string
	clusterName string
	nodeScript  string
)

var _ = SynchronizedBeforeSuite(func(ctx SpecContext) []byte {
	// No engine is a failure, not a skip: this suite exists to exercise it.
	_, err := exec.LookPath("docker")
	Expect(err).NotTo(HaveOccurred(), "docker is required for this suite")
	out, err := exec.CommandContext(ctx, "docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), "docker daemon not reachable: %s", out)

	fleet, err := filepath.Abs(filepath.Join("..", "fleet"))
	Expect(err).NotTo(HaveOccurred())
	nodeScript, err = filepath.Abs(filepath.Join("..", "..", "scripts", "kind-nodes.sh"))
	Expect(err).NotTo(HaveOccurred())

	// Keep run records and logs out of the user's state folder.
	tmpDir, err = os.MkdirTemp("", "slipway-e2e-")
	Expect(err).NotTo(HaveOccurred())
	stateDir = filepath.Join(tmpDir, "state")
	logDir := filepath.Join(tmpDir, "logs")
	Expect(os.MkdirAll(logDir, 0o755)).To(Succeed())
	clusterName = fmt.Sprintf("slipway-e2e-%d", time.Now().UnixNano()%1_000_000)

	bctx, cancel := context.WithCancel(ctx)
	defer cancel()
	t0 := time.Now()

	// 1. Create the cluster in the background.
	create, err := createCommand(bctx, tmpDir)
	Expect(err).NotTo(HaveOccurred())
	cluster := &clusterCreation{done: make(chan struct{})}
	go func() {
		defer close(cluster.done)
		cmd := create()
		cmd.Stdout, cmd.Stderr = GinkgoWriter, GinkgoWriter
		cluster.err = cmd.Run()
		cluster.ready = time.Since(t0)
		if cluster.err != nil {
			cancel() // no cluster, no point building
		}
	}()

	// 2. Build at the same time; the reporter starts each image's load
	// (once the cluster is up) as soon as that image is built.
	loader := &loadAsBuilt{
		ctx: bctx, t0: t0, cluster: clusterName, clusterUp: cluster,
		forward: progress.NewPlain(GinkgoWriter),
		built:   map[string]time.Duration{},
		loaded:  map[string]time.Duration{},
		errs:    map[string]error{},
	}
	logs := &logFiles{dir: logDir}
	res, buildErr := slipway.Build(bctx, slipway.Options{
		Config:   fleet,
		Services: []string{"e2e"},
		StateDir: stateDir,
		Reporter: loader,
		Logs:     logs.open, // one writer per service
	})
	buildWall := time.Since(t0)
	buildResult = res // cleaned in SynchronizedAfterSuite, even on failure
	loader.wait()     // loads started by the reporter
	loader.Close()
	logs.close()
	<-cluster.done
	total := time.Since(t0)

	Expect(cluster.err).NotTo(HaveOccurred(), "creating cluster %s", clusterName)
	if buildErr != nil && res != nil {
		for _, f := range res.Failures() {
			// The log is in the temp dir, removed after the suite: show its end.
			log, _ := os.ReadFile(f.Log)
			lines := strings.Split(strings.TrimSpace(string(log)), "\n")
			GinkgoWriter.Printf("%s failed: %v\n%s\n", f.Service, f.Err, strings.Join(lines[max(0, len(lines)-30):], "\n"))
		}
	}
	Expect(buildErr).NotTo(HaveOccurred())
	for svc, err := range loader.errs {
		Expect(err).NotTo(HaveOccurred(), "loading %s", svc)
	}

	line := loader.timing(cluster.ready, buildWall, total)
	GinkgoWriter.Println(line)
	fmt.Println(line)
	AddReportEntry("timing", line)

	sh := shared{Cluster: clusterName, Real: realNodeImage != "", Images: res.Refs(), Status: map[string]string{}, LogDir: logDir}
	for svc, img := range res.Images {
		sh.Status[svc] = string(img.Status)
	}
	data, err := json.Marshal(sh)
	Expect(err).NotTo(HaveOccurred())
	return data
}, func(data []byte) {
	Expect(json.Unmarshal(data, &suite)).To(Succeed())
}, NodeTimeout(20*time.Minute))

var _ = SynchronizedAfterSuite(func() {}, func(ctx SpecContext) {
	if clusterName != "" {
		defer func() {
			del := exec.Command(nodeScript, "delete", clusterName)
			if realNodeImage != "" {
				del = exec.Command("kind", "delete", "cluster", "--name", clusterName)
			}
			out, err := del.CombinedOutput()
			Expect(err).NotTo(HaveOccurred(), "deleting cluster %s: %s", clusterName, out)
		}()
	}
	if tmpDir != "" {
		defer os.RemoveAll(tmpDir)
	}
	if buildResult == nil {
		return
	}
	refs := map[string]bool{}
	for _, img := range buildResult.Images {
		if img.ID != "" {
			refs[img.Ref] = true
		}
	}

	// On a real cluster the pods go first: clean keeps (and reports) an
	// image a running container uses.
	if realNodeImage != "" {
		out, err := kubectl(ctx, clusterName, "", "delete", "deployments", "-l", "slipway-e2e=1", "--wait", "--timeout=2m")
		Expect(err).NotTo(HaveOccurred(), "deleting the deployments: %s", out)
	}

	// Clean exactly the images Build's run made. The loads were separate
	// Load calls, so the run record does not know the cluster: name it.
	// (With Options.Kind, buildResult.Clean(ctx) would find it alone.)
	var removed []slipway.Copy
	Eventually(func(g Gomega) {
		rm, err := slipway.Clean(ctx, slipway.CleanOptions{
			Run: buildResult.Run, StateDir: buildResult.StateDir, Engine: buildResult.Engine,
			Clusters: []string{clusterName},
		})
		g.Expect(err).NotTo(HaveOccurred())
		removed = append(removed, rm.Removed...)
		// A kubelet removes a deleted pod's containers a moment later.
		g.Expect(rm.Kept).To(BeEmpty())
	}).WithContext(ctx).WithTimeout(time.Minute).WithPolling(2 * time.Second).Should(Succeed())
	for _, c := range removed {
		GinkgoWriter.Printf("removed %s\n", c)
		Expect(refs).To(HaveKey(c.Ref), "clean removed an image this run did not make")
	}

	// The images are gone from the engine and from every node.
	for ref := range refs {
		out, err := exec.CommandContext(ctx, "docker", "image", "inspect", ref).CombinedOutput()
		Expect(err).To(HaveOccurred(), "%s is still in the engine: %s", ref, out)
	}
	for _, node := range nodesOf(clusterName) {
		out, err := exec.CommandContext(ctx, "docker", "exec", node, "ctr", "-n", "k8s.io", "images", "ls", "-q").CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), "%s: %s", node, out)
		left := strings.Fields(string(out))
		for ref := range refs {
			Expect(left).NotTo(ContainElement(ref), "%s is still on node %s", ref, node)
		}
	}
}, NodeTimeout(3*time.Minute))

// createCommand returns the command that creates the suite's cluster:
// Kind-shaped nodes, or with SLIPWAY_E2E_NODE_IMAGE a real Kind cluster of
// one control plane and one worker (its config written to dir).
func createCommand(ctx context.Context, dir string) (func() *exec.Cmd, error) {
	if realNodeImage == "" {
		return func() *exec.Cmd { return exec.CommandContext(ctx, nodeScript, "create", clusterName, "1") }, nil
	}
	img := realNodeImage
	if img == "build" {
		// The script builds (or finds) the image and prints it last.
		script, err := filepath.Abs(filepath.Join("..", "..", "scripts", "kind-node-image.sh"))
		if err != nil {
			return nil, err
		}
		cmd := exec.CommandContext(ctx, script)
		cmd.Stderr = GinkgoWriter
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("scripts/kind-node-image.sh: %w", err)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		img = strings.TrimSpace(lines[len(lines)-1])
	}
	GinkgoWriter.Printf("real Kind cluster %s from node image %s\n", clusterName, img)
	// The repository's one real-cluster shape (one control plane, one
	// worker, kubeadm waits that hold on a loaded runner); with your own
	// Kind, any config with a worker does.
	cfg, err := filepath.Abs(filepath.Join("..", "..", "scripts", "lib", "kind-cluster.yaml"))
	if err != nil {
		return nil, err
	}
	return func() *exec.Cmd {
		return exec.CommandContext(ctx, "kind", "create", "cluster", "--name", clusterName, "--image", img, "--config", cfg, "--wait", "5m")
	}, nil
}

// kubectl runs kubectl in the cluster's control-plane node, which has it
// and an admin kubeconfig: the host needs no kubectl.
func kubectl(ctx context.Context, cluster, stdin string, args ...string) ([]byte, error) {
	argv := append([]string{"exec", "-i", cluster + "-control-plane", "kubectl", "--kubeconfig=/etc/kubernetes/admin.conf"}, args...)
	cmd := exec.CommandContext(ctx, "docker", argv...)
	cmd.Stdin = strings.NewReader(stdin)
	return cmd.CombinedOutput()
}

// clusterCreation is the background cluster creation.
type clusterCreation struct {
	done  chan struct{}
	err   error         // set before done closes
	ready time.Duration // since t0
}

// loadAsBuilt is a progress.Reporter that loads each image into the
// cluster as soon as it is built (or reused), once the cluster is up.
type loadAsBuilt struct {
	ctx       context.Context
	t0        time.Time
	cluster   string
	clusterUp *clusterCreation
	forward   progress.Reporter // also show progress in the Ginkgo output

	wg        sync.WaitGroup
	mu        sync.Mutex
	built     map[string]time.Duration // service -> build done, since t0
	loaded    map[string]time.Duration // service -> load done, since t0
	firstLoad time.Duration            // when the first load started, since t0
	errs      map[string]error
}

func (l *loadAsBuilt) Event(e progress.Event) {
	l.forward.Event(e)
	if (e.State != progress.Built && e.State != progress.Reused) || e.Ref == "" {
		return
	}
	l.mu.Lock()
	l.built[e.Service] = e.Time.Sub(l.t0)
	l.mu.Unlock()
	// Never block the build: load in the background.
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		select {
		case <-l.clusterUp.done:
		case <-l.ctx.Done():
			return
		}
		if l.clusterUp.err != nil {
			return // reported by the suite
		}
		l.mu.Lock()
		if start := time.Since(l.t0); l.firstLoad == 0 || start < l.firstLoad {
			l.firstLoad = start
		}
		l.mu.Unlock()
		_, err := slipway.Load(l.ctx, slipway.LoadOptions{Kind: slipway.KindOptions{Cluster: l.cluster}}, e.Ref)
		l.mu.Lock()
		defer l.mu.Unlock()
		l.loaded[e.Service] = time.Since(l.t0)
		if err != nil {
			l.errs[e.Service] = err
		}
	}()
}

func (l *loadAsBuilt) Close() { l.forward.Close() }

func (l *loadAsBuilt) wait() { l.wg.Wait() }

// timing is one line that shows how the phases overlapped: when the
// cluster was ready, when each image was built and loaded (all since the
// start), and the total against the phases run one after another (cluster
// creation, then the builds, then the loads; imports into one node are
// serialized by slipway, so the load phase is first load start to last
// load end).
func (l *loadAsBuilt) timing(clusterReady, buildWall, total time.Duration) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := func(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) }
	var built, loaded []string
	for _, svc := range slipway.SortedServices(l.built) {
		built = append(built, svc+" +"+s(l.built[svc]))
	}
	var lastLoad time.Duration
	for _, svc := range slipway.SortedServices(l.loaded) {
		loaded = append(loaded, svc+" +"+s(l.loaded[svc]))
		lastLoad = max(lastLoad, l.loaded[svc])
	}
	loads := lastLoad - l.firstLoad
	return fmt.Sprintf("timing: cluster ready +%s | built %s | loaded %s | total %s vs %s one phase after another (cluster %s + builds %s + loads %s)",
		s(clusterReady), strings.Join(built, ", "), strings.Join(loaded, ", "),
		s(total), s(clusterReady+buildWall+loads), s(clusterReady), s(buildWall), s(loads))
}

// logFiles hands Build one log file per service (Options.Logs).
type logFiles struct {
	dir   string
	mu    sync.Mutex
	files []*os.File
}

func (lf *logFiles) open(service string) io.Writer {
	f, err := os.Create(filepath.Join(lf.dir, service+".log"))
	if err != nil {
		return nil // Build then only writes the run folder's log
	}
	lf.mu.Lock()
	lf.files = append(lf.files, f)
	lf.mu.Unlock()
	return f
}

func (lf *logFiles) close() {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	for _, f := range lf.files {
		f.Close()
	}
}

// nodesOf names the nodes of a cluster made by `kind-nodes.sh create NAME 1`.
func nodesOf(cluster string) []string {
	return []string{cluster + "-control-plane", cluster + "-worker"}
}

// sortedKeys is for messages.
func sortedKeys(m map[string]string) []string {
	k := make([]string, 0, len(m))
	for x := range m {
		k = append(k, x)
	}
	slices.Sort(k)
	return k
}
