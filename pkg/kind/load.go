package kind

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"sigs.k8s.io/kind/pkg/cluster/nodes"
)

// Action is what a load did on one node.
type Action string

const (
	Present  Action = "present"  // the node had the image under this name
	Retagged Action = "retagged" // the node had the content under another name
	Loaded   Action = "loaded"   // the image was streamed in
)

// Image is one image to put on the nodes.
type Image struct {
	Ref string // repository:tag
	ID  string // the engine's image ID (config digest), as containerd reports it too
	// Layers are its diff IDs; with them, layers the nodes hold are not sent.
	Layers []string
	// Fresh: built just now, so the nodes almost surely lack it. When every
	// image of a load is fresh, the engine's save starts at once, alongside
	// the look at the nodes (see earlySave).
	Fresh bool
}

// Saver streams an image archive of ref: the engine's `save`.
type Saver interface {
	Save(ctx context.Context, w io.Writer, refs ...string) error
}

// NodeError is a load that failed on one node.
type NodeError struct {
	Node, Image string
	Err         error
}

func (e *NodeError) Error() string {
	return fmt.Sprintf("loading %s into node %s: %v", e.Image, e.Node, e.Err)
}
func (e *NodeError) Unwrap() error { return e.Err }

// Load puts img on every node of c; see LoadAll.
func Load(ctx context.Context, c *Cluster, s Saver, img Image) (map[string]Action, error) {
	out, err := LoadAll(ctx, c, s, []Image{img})
	return out[img.Ref], err
}

// LoadAll puts images on every node of c, sending only what each node
// lacks: nothing where the node has an image under its name, a re-tag where
// it has the content under another name, and for the rest one save of all
// the images a set of nodes needs (shared layers travel once), streamed to
// those nodes at once with no temp file. It returns ref -> node -> action,
// and reports an action only once that node's final image listing shows
// the name with the image's ID; a node where that fails is an error.
func LoadAll(ctx context.Context, c *Cluster, s Saver, imgs []Image) (map[string]map[string]Action, error) {
	out := map[string]map[string]Action{}
	for _, img := range imgs {
		out[img.Ref] = map[string]Action{}
	}
	var mu sync.Mutex
	done := map[string]map[string]Action{}    // node -> ref -> action, until verified
	needs := map[string][]nodes.Node{}        // image ref -> nodes lacking it
	before := map[string]map[string]string{}  // node -> ref -> image ID before the load
	looks := map[string]nodeLook{}            // node -> its first look
	after := map[string]map[string][]string{} // node -> its image list right after its last import
	var early *earlySave
	if !slices.ContainsFunc(imgs, func(img Image) bool { return !img.Fresh }) && len(imgs) > 0 {
		early = startEarly(ctx, s, refsList(imgs))
		defer early.stop()
	}
	var layers []string
	for _, img := range imgs {
		for _, l := range img.Layers {
			if !slices.Contains(layers, l) {
				layers = append(layers, l)
			}
		}
	}
	var errs []error
	if observe := statsObserver(ctx); observe != nil {
		tl, start := newTally(), time.Now()
		ctx = context.WithValue(ctx, tallyKey{}, tl)
		defer func() {
			mu.Lock()
			defer mu.Unlock()
			tl.report(observe, strings.Split(nodeNames(c.Nodes), ","), start, out, errs)
		}()
	}
	failed := map[string]bool{}
	fail := func(n nodes.Node, err error) {
		mu.Lock()
		defer mu.Unlock()
		errs = append(errs, err)
		failed[n.String()] = true
	}
	_ = forEach(c.Nodes, func(n nodes.Node) error {
		l, err := look(ctx, n, layers)
		if err != nil {
			fail(n, &NodeError{Node: n.String(), Image: refsOf(imgs), Err: err})
			return nil
		}
		have := l.images
		names := map[string]string{}
		for id, tags := range have {
			for _, t := range tags {
				names[t] = id
			}
		}
		acts := map[string]Action{}
		var retag [][2]string
		var lacking []string
		for _, img := range imgs {
			switch tags := have[img.ID]; {
			case slices.Contains(tags, img.Ref):
				acts[img.Ref] = Present
			case len(tags) > 0:
				retag = append(retag, [2]string{tags[0], img.Ref})
				acts[img.Ref] = Retagged
			default:
				lacking = append(lacking, img.Ref)
			}
		}
		mu.Lock()
		before[n.String()] = names
		looks[n.String()] = l
		for _, ref := range lacking {
			needs[ref] = append(needs[ref], n)
		}
		mu.Unlock()
		if err := retagAll(ctx, n, retag); err != nil {
			fail(n, &NodeError{Node: n.String(), Image: refsOf(imgs), Err: err})
			return nil
		}
		mu.Lock()
		done[n.String()] = acts
		mu.Unlock()
		return nil
	})
	if ctx.Err() != nil {
		return out, errors.Join(append(errs, context.Cause(ctx))...)
	}
	// One stream per distinct set of nodes: usually every image needs every
	// node (cold) or one image needs them all (one changed service).
	groups := map[string][]Image{}
	groupNodes := map[string][]nodes.Node{}
	for _, img := range imgs {
		var ns []nodes.Node
		for _, n := range needs[img.Ref] {
			if !failed[n.String()] {
				ns = append(ns, n)
			}
		}
		if len(ns) == 0 {
			continue
		}
		slices.SortFunc(ns, func(a, b nodes.Node) int { return strings.Compare(a.String(), b.String()) })
		key := nodeNames(ns)
		groups[key] = append(groups[key], img)
		groupNodes[key] = ns
	}
	if !slices.ContainsFunc(slices.Collect(maps.Values(groups)), func(g []Image) bool { return early.matches(refsList(g)) }) {
		early.stop() // no stream will take it: free the engine now
	}
	for _, key := range slices.Sorted(maps.Keys(groups)) {
		group, ns := groups[key], groupNodes[key]
		nodeErrs, lists, err := loadGroup(ctx, c, s, ns, group, before, looks, early)
		if err != nil {
			for _, n := range ns {
				failed[n.String()] = true
			}
			errs = append(errs, &NodeError{Node: key, Image: refsOf(group), Err: err})
			continue
		}
		for i, n := range ns {
			if nodeErrs[i] != nil {
				failed[n.String()] = true
				errs = append(errs, nodeErrs[i])
				continue
			}
			after[n.String()] = lists[i]
			for _, img := range group {
				if done[n.String()] == nil {
					done[n.String()] = map[string]Action{}
				}
				done[n.String()][img.Ref] = Loaded
			}
		}
	}
	// The final check: containerd's CRI publishes a new name a moment after
	// `ctr` made it, and only what the CRI lists is there for the kubelet.
	_ = forEach(c.Nodes, func(n nodes.Node) error {
		mu.Lock()
		acts, bad := done[n.String()], failed[n.String()]
		mu.Unlock()
		if bad || len(acts) == 0 {
			return nil
		}
		var want []Image
		changed := false
		for _, img := range imgs {
			if a, ok := acts[img.Ref]; ok {
				want = append(want, img)
				changed = changed || a != Present
			}
		}
		// Where every image was present, nothing changed on the node since
		// the listing that found them: that listing is the final one.
		if changed {
			mu.Lock()
			first := after[n.String()]
			mu.Unlock()
			if err := verifySettled(ctx, n, want, first); err != nil {
				fail(n, &NodeError{Node: n.String(), Image: refsOf(want), Err: err})
				return nil
			}
		}
		mu.Lock()
		for ref, a := range acts {
			out[ref][n.String()] = a
		}
		mu.Unlock()
		tallyFrom(ctx).ended(n.String())
		return nil
	})
	return out, errors.Join(errs...)
}

// loadGroup streams group into ns. err is a failure before any stream
// started (a lock, a cancel); nodeErrs[i] is node i's own failure and
// lists[i] its image list right after the import (nil if not read). early,
// if it saves exactly group, is the first stream's source.
func loadGroup(ctx context.Context, c *Cluster, s Saver, ns []nodes.Node, group []Image, before map[string]map[string]string, looks map[string]nodeLook, early *earlySave) (nodeErrs []error, lists []map[string][]string, err error) {
	asked := time.Now()
	unlock, err := lockNodes(ctx, c.Provider, ns)
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	if time.Since(asked) > relookAfter {
		// Another load held a node: what it did (or a failed import's
		// clean-up) may have changed which layers the nodes hold since
		// the look. Look again, under the lock.
		looks = relook(ctx, ns, group, looks)
	}
	refs := refsList(group)
	var layers []string
	snaps := make([]string, len(ns))
	for _, img := range group {
		layers = append(layers, img.Layers...)
	}
	for i, n := range ns {
		snaps[i] = looks[n.String()].snapshotter
	}
	save := func(ctx context.Context, w io.Writer) error { return s.Save(ctx, w, refs...) }
	first := save
	if w := early.take(refs); w != nil {
		first = w
	}
	present := presentEverywhere(ns, layers, looks)
	if len(present) == 0 {
		nodeErrs, lists = stream(ctx, ns, snaps, first, group, before)
		return nodeErrs, lists, nil
	}
	filtered := func(ctx context.Context, w io.Writer) error {
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(first(ctx, pw)) }()
		err := filterArchive(pr, w, present)
		pr.CloseWithError(err)
		return err
	}
	nodeErrs, lists = stream(ctx, ns, snaps, filtered, group, before)
	if slices.ContainsFunc(nodeErrs, func(err error) bool { return errors.Is(err, errGuess) }) {
		nodeErrs, lists = stream(ctx, ns, snaps, save, group, before)
		return nodeErrs, lists, nil
	}
	if tl := tallyFrom(ctx); tl != nil {
		var skipped int64
		for _, size := range present {
			skipped += size
		}
		for i, n := range ns {
			if nodeErrs[i] == nil {
				tl.add(n.String(), 0, skipped)
			}
		}
	}
	return nodeErrs, lists, nil
}

// relookAfter is the wait for the node locks after which the layers the
// look found are asked for again.
const relookAfter = 100 * time.Millisecond

// relook returns looks with the layers of ns looked at again (a node whose
// look fails holds none, so nothing is skipped for it).
func relook(ctx context.Context, ns []nodes.Node, group []Image, looks map[string]nodeLook) map[string]nodeLook {
	var layers []string
	for _, img := range group {
		layers = append(layers, img.Layers...)
	}
	var mu sync.Mutex
	fresh := maps.Clone(looks)
	_ = forEach(ns, func(n nodes.Node) error {
		l, err := look(ctx, n, layers)
		mu.Lock()
		defer mu.Unlock()
		old := fresh[n.String()]
		old.layers = nil
		if err == nil {
			old.layers = l.layers
		}
		fresh[n.String()] = old
		return nil
	})
	return fresh
}

// presentEverywhere is the subset of layers that every node of ns held at
// its look (none if any node's look could not tell).
func presentEverywhere(ns []nodes.Node, layers []string, looks map[string]nodeLook) map[string]int64 {
	if len(layers) == 0 || len(ns) == 0 {
		return nil
	}
	all := map[string]int64{}
	for _, d := range layers {
		if size, ok := looks[ns[0].String()].layers[d]; ok {
			all[d] = size
		}
	}
	for _, n := range ns[1:] {
		have := looks[n.String()].layers
		for d, size := range all {
			if got, ok := have[d]; !ok || got != size {
				delete(all, d)
			}
		}
	}
	return all
}

// nodeImages maps each image ID on the node to its names, in one exec.
func nodeImages(ctx context.Context, n nodes.Node) (map[string][]string, error) {
	var stdout, stderr bytes.Buffer
	if err := n.CommandContext(ctx, "crictl", "images", "-o", "json").SetStdout(&stdout).SetStderr(&stderr).Run(); err != nil {
		return nil, fmt.Errorf("asking containerd for its images: %w %s", runErr(err), strings.TrimSpace(stderr.String()))
	}
	return parseImages(stdout.Bytes())
}

// retagAll gives existing content new names, in one exec.
func retagAll(ctx context.Context, n nodes.Node, pairs [][2]string) error {
	if len(pairs) == 0 {
		return nil
	}
	var script strings.Builder
	script.WriteString("set -e\n")
	for _, p := range pairs {
		fmt.Fprintf(&script, "ctr --namespace=k8s.io images tag --force %s %s >/dev/null\n", shellQuote(p[0]), shellQuote(p[1]))
	}
	var stderr bytes.Buffer
	if err := n.CommandContext(ctx, "sh", "-c", script.String()).SetStderr(&stderr).Run(); err != nil {
		return fmt.Errorf("re-tagging: %w %s", runErr(err), strings.TrimSpace(stderr.String()))
	}
	return nil
}

// shellQuote quotes s for sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func nodeNames(ns []nodes.Node) string {
	names := make([]string, len(ns))
	for i, n := range ns {
		names[i] = n.String()
	}
	return strings.Join(names, ",")
}

func refsList(imgs []Image) []string {
	refs := make([]string, len(imgs))
	for i, img := range imgs {
		refs[i] = img.Ref
	}
	return refs
}

func refsOf(imgs []Image) string { return strings.Join(refsList(imgs), ", ") }

// VerifyDelays are the pauses between looks at a node's final image list:
// containerd's CRI publishes a name `ctr` just made a moment later, longer
// on a busy machine. After the last, a name still missing is an error.
var VerifyDelays = []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond,
	800 * time.Millisecond, 1600 * time.Millisecond, 3200 * time.Millisecond}

// verifySettled checks, one listing per look, that the node lists every
// image under its name with its ID, looking again a few times. first, if
// not nil, is a listing taken right after the import, in the import's own
// exec: when the CRI was already up to date it saves a round.
func verifySettled(ctx context.Context, n nodes.Node, imgs []Image, first map[string][]string) error {
	if first != nil && len(lacking(first, imgs)) == 0 {
		return nil
	}
	for i := 0; ; i++ {
		have, err := nodeImages(ctx, n)
		if err != nil {
			return fmt.Errorf("final check: %w", err)
		}
		missing := lacking(have, imgs)
		if len(missing) == 0 {
			return nil
		}
		if i >= len(VerifyDelays) {
			return fmt.Errorf("the node's image list still lacks %s after %s", strings.Join(missing, ", "), sum(VerifyDelays))
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(VerifyDelays[i]):
		}
	}
}

// lacking lists the images that have (image ID -> names) does not give
// under their names.
func lacking(have map[string][]string, imgs []Image) []string {
	var missing []string
	for _, img := range imgs {
		if !slices.Contains(have[img.ID], img.Ref) {
			missing = append(missing, img.Ref+" ("+shortID(img.ID)+")")
		}
	}
	return missing
}

func sum(ds []time.Duration) time.Duration {
	var t time.Duration
	for _, d := range ds {
		t += d
	}
	return t
}

func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		id = id[:12]
	}
	return id
}

// ImportArchive streams the archive that write produces into every node
// of c at once.
func ImportArchive(ctx context.Context, c *Cluster, write func(context.Context, io.Writer) error) error {
	unlock, err := lockNodes(ctx, c.Provider, c.Nodes)
	if err != nil {
		return err
	}
	defer unlock()
	errs, _ := stream(ctx, c.Nodes, nil, write, nil, nil)
	return errors.Join(errs...)
}

// StallTimeout is how long a node may accept no bytes of a stream that is
// waiting for it before its import is killed and it is reported failed, so
// one stuck node does not stall every other node's load. The environment
// variable SLIPWAY_NODE_STALL_TIMEOUT (a Go duration) overrides it.
var StallTimeout = 60 * time.Second

func stallTimeout() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("SLIPWAY_NODE_STALL_TIMEOUT")); err == nil && d > 0 {
		return d
	}
	return StallTimeout
}

// ErrStalled is a node that stopped reading its stream.
var ErrStalled = errors.New("the node stopped reading the image stream")

// stream runs one archive writer into every node's `ctr images import` at
// once and returns each node's error (nil where it worked). After a failed
// import of imgs, a name is removed from a node only where it now names
// one of imgs and named nothing before the load (before: node -> ref ->
// ID), so a fixed tag (":dev") a failed load was to replace keeps its old
// image. snaps[i] is node i's snapshotter if a look found it ("" or a nil
// snaps: ask). lists[i] is node i's image list read right after its import
// (nil if not read).
func stream(ctx context.Context, ns []nodes.Node, snaps []string, write func(context.Context, io.Writer) error, imgs []Image, before map[string]map[string]string) (errs []error, lists []map[string][]string) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stall := stallTimeout()
	watched := make([]*watchedPipe, len(ns))
	results := make([]chan error, len(ns))
	lists = make([]map[string][]string, len(ns))
	for i, n := range ns {
		nctx, ncancel := context.WithCancelCause(ctx)
		defer ncancel(nil)
		pr, pw := io.Pipe()
		wp := &watchedPipe{pw: pw, pr: pr, cancel: ncancel, node: n.String()}
		wp.lastRead.Store(time.Now().UnixNano())
		watched[i], results[i] = wp, make(chan error, 1)
		go wp.watch(nctx, stall)
		snap := ""
		if i < len(snaps) {
			snap = snaps[i]
		}
		go func(i int, n nodes.Node, res chan<- error) {
			list, err := importArchive(nctx, n, snap, &progressReader{r: pr, last: &wp.lastRead, count: &wp.read})
			lists[i] = list
			if cause := context.Cause(nctx); errors.Is(cause, ErrStalled) {
				err = cause
			}
			pr.CloseWithError(errImportEnded) // unblock the fan-out if import stopped reading
			res <- err
		}(i, n, results[i])
	}
	fan := &fanout{ws: make([]io.Writer, len(watched))}
	for i, p := range watched {
		fan.ws[i] = p
	}
	saveErr := write(ctx, fan)
	for _, p := range watched {
		p.pw.CloseWithError(saveErr)
	}
	ids := map[string]bool{}
	for _, img := range imgs {
		ids[img.ID] = true
	}
	errs = make([]error, len(ns))
	for i, n := range ns {
		err := <-results[i]
		tallyFrom(ctx).add(n.String(), watched[i].read.Load(), 0)
		if saveErr != nil && !errors.Is(saveErr, errImportEnded) && !errors.Is(err, ErrStalled) {
			// The save broke the stream; the import's complaint (a short
			// read) only follows from it. errGuess must show here too.
			err = fmt.Errorf("saving from the engine: %w", saveErr)
		}
		if err == nil {
			continue
		}
		if len(imgs) > 0 {
			// Bounded: this runs after a cancel too.
			cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			if cerr := removeBrought(cctx, n, imgs, ids, before[n.String()]); cerr != nil {
				err = fmt.Errorf("%w (and cleaning up: %v)", err, cerr)
			}
			ccancel()
		}
		errs[i] = &NodeError{Node: n.String(), Image: orArchive(refsOf(imgs)), Err: err}
	}
	return errs, lists
}

// removeBrought removes, after a failed import, the names of imgs that now
// name an image this load brought and named nothing before it. A name the
// node held before (for another image) is left alone whatever it names now.
func removeBrought(ctx context.Context, n nodes.Node, imgs []Image, ids map[string]bool, before map[string]string) error {
	have, err := nodeImages(ctx, n)
	if err != nil {
		return err
	}
	var drop []string
	for _, img := range imgs {
		if _, held := before[img.Ref]; held {
			continue
		}
		for id, tags := range have {
			if ids[id] && slices.Contains(tags, img.Ref) {
				drop = append(drop, img.Ref)
			}
		}
	}
	return RemoveRefs(ctx, n, drop...)
}

// watchedPipe is one node's end of the fan-out, with a watchdog: a write
// that the node does not read from for the stall timeout kills the import.
type watchedPipe struct {
	pw       *io.PipeWriter
	pr       *io.PipeReader
	cancel   context.CancelCauseFunc
	node     string
	lastRead atomic.Int64 // unix nanos of the node's last read
	read     atomic.Int64 // bytes the node read
	writing  atomic.Int64 // unix nanos the pending write began; 0: none
}

func (w *watchedPipe) Write(p []byte) (int, error) {
	w.writing.Store(time.Now().UnixNano())
	defer w.writing.Store(0)
	return w.pw.Write(p)
}

// watch cuts the node off once a write has waited on it, with no byte
// read, for longer than stall; it ends with ctx.
func (w *watchedPipe) watch(ctx context.Context, stall time.Duration) {
	tick := time.NewTicker(max(stall/10, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		since := w.writing.Load()
		if since == 0 {
			continue // nothing is waiting for this node
		}
		if last := w.lastRead.Load(); last > since {
			since = last
		}
		if time.Since(time.Unix(0, since)) > stall {
			err := fmt.Errorf("%w for %s (is node %s paused or hung?)", ErrStalled, stall, w.node)
			w.cancel(err)
			w.pr.CloseWithError(err) // unblocks the pending write
			return
		}
	}
}

// progressReader notes the time of every read that got bytes.
type progressReader struct {
	r     io.Reader
	last  *atomic.Int64
	count *atomic.Int64 // bytes read, for the run report; may be nil
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.last.Store(time.Now().UnixNano())
		if p.count != nil {
			p.count.Add(int64(n))
		}
	}
	return n, err
}

var errImportEnded = errors.New("import ended")

// importArchive ingests an archive into the node's containerd, unpacking
// it for the snapshotter the CRI uses (snap; "" asks the node), or with
// UnpackOnFirstUse (WithUnpack) leaving that to the first container start;
// see unpack.go. In the same exec it then lists the node's images (nil if
// that listing failed), for the final check.
func importArchive(ctx context.Context, n nodes.Node, snap string, r io.Reader) (map[string][]string, error) {
	if snap == "" {
		var err error
		if snap, err = snapshotter(ctx, n); err != nil {
			return nil, err
		}
	}
	argv := []string{"ctr"}
	for _, a := range importArgs(unpackMode(ctx), snap) {
		argv = append(argv, shellQuote(a))
	}
	var stdout, stderr bytes.Buffer
	err := n.CommandContext(ctx, "sh", "-c", script(strings.Join(argv, " ")+" >/dev/null", listImages)).
		SetStdin(r).SetStdout(&stdout).SetStderr(&stderr).Run()
	if err != nil {
		return nil, fmt.Errorf("ctr images import: %w: %s", runErr(err), strings.TrimSpace(stderr.String()))
	}
	if ps := parts(stdout.Bytes()); len(ps) == 2 {
		if list, err := parseImages([]byte(ps[1])); err == nil {
			return list, nil
		}
	}
	return nil, nil
}

// snapshotter reads the node's containerd config, as kind does, so the
// image is unpacked for the snapshotter the CRI uses.
func snapshotter(ctx context.Context, n nodes.Node) (string, error) {
	var out bytes.Buffer
	if err := n.CommandContext(ctx, "containerd", "config", "dump").SetStdout(&out).Run(); err != nil {
		return "", fmt.Errorf("reading containerd config: %w", runErr(err))
	}
	return parseSnapshotter(out.Bytes())
}

// fanout writes to every writer; one that fails is dropped so the others
// still get the whole stream (its own import reports the failure).
type fanout struct {
	ws []io.Writer
}

func (f *fanout) Write(p []byte) (int, error) {
	live := 0
	for i, w := range f.ws {
		if w == nil {
			continue
		}
		if _, err := w.Write(p); err != nil {
			f.ws[i] = nil
			continue
		}
		live++
	}
	if live == 0 {
		return 0, errImportEnded
	}
	return len(p), nil
}

func forEach(ns []nodes.Node, f func(nodes.Node) error) error {
	errs := make([]error, len(ns))
	var wg sync.WaitGroup
	for i, n := range ns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(n)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func orArchive(ref string) string {
	if ref == "" {
		return "archive"
	}
	return ref
}
