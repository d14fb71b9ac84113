package kind

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"
	"github.com/pelletier/go-toml"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
)

// Every command run on a node is a `docker exec` (or `podman exec`) round of
// 0.2–0.5 s, most of it the engine's, not the command's. A load of one
// changed layer used to make five such rounds one after another (images,
// layers on each node in turn, the snapshotter, the import, the final
// listing), which was most of its time. The helpers here run several
// commands in one exec and split their answers.

// partSep is a line between the answers of the commands one exec runs.
const partSep = "--slipway-part--"

// script joins commands into one sh script: the first must succeed (its exit
// status is the script's); the others may fail (their answers are then
// empty or unreadable and the caller falls back). Each answer is followed by
// a partSep line.
func script(first string, rest ...string) string {
	var b strings.Builder
	b.WriteString("{ " + first + "; } || exit $?; echo " + partSep)
	for _, r := range rest {
		b.WriteString("; { " + r + "; } || true; echo " + partSep)
	}
	return b.String()
}

// parts splits a script's output into its commands' answers.
func parts(out []byte) []string {
	ps := strings.Split(string(out), partSep+"\n")
	return ps[:max(len(ps)-1, 0)]
}

// nodeLook is what one look at a node gives.
type nodeLook struct {
	// images maps each image ID to its names, as the CRI lists them.
	images map[string][]string
	// layers are the asked-for layers its content store holds (nil: not known).
	layers map[string]int64
	// snapshotter is the one the CRI unpacks for ("": not known).
	snapshotter string
}

const (
	listImages = "crictl images -o json"
	dumpConfig = "containerd config dump"
	// bootMark is the start time of the node's PID 1 (in clock ticks since
	// the host booted) and the change time of containerd's config file: a
	// node container made again under the same name gives another start
	// time, and a config edited (then containerd restarted) another change
	// time. The sed keeps what follows the command name, which may hold
	// spaces.
	bootMark = "echo $(sed 's/.*) //' /proc/1/stat | cut -d' ' -f20) $(stat -c %Z /etc/containerd/config.toml 2>/dev/null)"
	// dumpFailed follows a config dump that failed: whatever it printed is
	// not remembered.
	dumpFailed = "--slipway-dump-failed--"
)

// snapshotters remembers each node's snapshotter for its boot mark:
// `containerd config dump` is the costliest part of a look (it loads every
// plugin's config), and a node's answer only changes when it is made again.
// node name -> snapshotterSeen.
var snapshotters sync.Map

type snapshotterSeen struct{ mark, snapshotter string }

// snapshotterScript prints the node's boot mark and, unless it is the one
// a snapshotter was remembered for, the containerd config.
func snapshotterScript(n nodes.Node) string {
	known := ""
	if v, ok := snapshotters.Load(n.String()); ok {
		known = v.(snapshotterSeen).mark
	}
	return "m=$(" + bootMark + "); echo \"$m\"; [ \"$m\" = " + shellQuote(known) + " ] || " + dumpConfig + " || echo " + dumpFailed
}

// parseSnapshotterPart reads snapshotterScript's answer.
func parseSnapshotterPart(n nodes.Node, out string) string {
	mark, config, _ := strings.Cut(out, "\n")
	if v, ok := snapshotters.Load(n.String()); ok && mark != "" && v.(snapshotterSeen).mark == mark {
		return v.(snapshotterSeen).snapshotter
	}
	if strings.Contains(config, dumpFailed) {
		return "" // the import asks again, and fails with the dump's own error
	}
	snap, err := parseSnapshotter([]byte(config))
	if err != nil || mark == "" || strings.TrimSpace(config) == "" {
		return "" // the import asks again
	}
	snapshotters.Store(n.String(), snapshotterSeen{mark: mark, snapshotter: snap})
	return snap
}

// look asks a node, in one exec, for its images, which of layers its content
// store holds, and its snapshotter. Only the image list must answer; a
// failed layer or config part leaves that field empty (nothing is skipped;
// the import asks for the snapshotter itself).
func look(ctx context.Context, n nodes.Node, layers []string) (nodeLook, error) {
	cmds := []string{snapshotterScript(n)}
	if ls := layerScript(layers); len(layers) > 0 && len(ls) <= maxLayerScript {
		cmds = append(cmds, ls)
	}
	var stdout, stderr bytes.Buffer
	if err := n.CommandContext(ctx, "sh", "-c", script(listImages, cmds...)).SetStdout(&stdout).SetStderr(&stderr).Run(); err != nil {
		return nodeLook{}, fmt.Errorf("asking containerd for its images: %w %s", runErr(err), strings.TrimSpace(stderr.String()))
	}
	ps := parts(stdout.Bytes())
	if len(ps) == 0 {
		return nodeLook{}, fmt.Errorf("asking containerd for its images: no answer")
	}
	images, err := parseImages([]byte(ps[0]))
	if err != nil {
		return nodeLook{}, err
	}
	l := nodeLook{images: images}
	if len(ps) > 1 {
		l.snapshotter = parseSnapshotterPart(n, ps[1])
	}
	if len(ps) > 2 {
		l.layers = parseLayers(ps[2])
	}
	return l, nil
}

// maxLayerScript bounds the layer part of a look: Linux takes at most
// 128 KiB in one argument, and the script is one. A load of that many
// layers (about a thousand) asks nothing about them and sends them all.
const maxLayerScript = 64 << 10

// parseImages reads `crictl images -o json`: image ID -> names.
func parseImages(b []byte) (map[string][]string, error) {
	var v struct {
		Images []struct {
			ID       string   `json:"id"`
			RepoTags []string `json:"repoTags"`
		} `json:"images"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("reading crictl images: %w", err)
	}
	m := map[string][]string{}
	for _, im := range v.Images {
		m[im.ID] = append(m[im.ID], im.RepoTags...)
	}
	return m, nil
}

// parseSnapshotter reads `containerd config dump` as kind does: the CRI's
// snapshotter under containerd 1.x or 2.x config, else overlayfs.
func parseSnapshotter(b []byte) (string, error) {
	t, err := toml.LoadBytes(b)
	if err != nil {
		return "", fmt.Errorf("reading containerd config: %w", err)
	}
	for _, path := range [][]string{
		{"plugins", "io.containerd.grpc.v1.cri", "containerd", "snapshotter"},
		{"plugins", "io.containerd.cri.v1.images", "snapshotter"},
	} {
		if s, ok := t.GetPath(path).(string); ok && s != "" {
			return s, nil
		}
	}
	return "overlayfs", nil
}

// layerScript lists the node's k8s.io content and the sizes of the blobs
// named by digests (sha256 only).
func layerScript(digests []string) string {
	var hexes []string
	for _, s := range digests {
		if d, err := digest.Parse(s); err == nil && d.Algorithm() == digest.SHA256 {
			hexes = append(hexes, d.Encoded())
		}
	}
	return "ctr --namespace=k8s.io content ls -q; echo ---; cd " + contentRoot + " && stat -c '%n %s' " + strings.Join(hexes, " ") + " 2>/dev/null; true"
}

// parseLayers reads layerScript's answer: the blobs that are both in the
// k8s.io namespace and on disk, with their sizes.
func parseLayers(out string) map[string]int64 {
	listed, sizes, ok := strings.Cut(out, "---\n")
	if !ok {
		return nil
	}
	inNS := map[string]bool{}
	for _, d := range strings.Fields(listed) {
		inNS[d] = true
	}
	have := map[string]int64{}
	sc := bufio.NewScanner(strings.NewReader(sizes))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			continue
		}
		size, err := strconv.ParseInt(f[1], 10, 64)
		if d := digest.NewDigestFromEncoded(digest.SHA256, f[0]); err == nil && inNS[d.String()] {
			have[d.String()] = size
		}
	}
	return have
}
