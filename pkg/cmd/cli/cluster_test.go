package cli

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func parseCluster(t *testing.T, multi bool, args ...string) (*Cluster, []string, string) {
	t.Helper()
	var warn bytes.Buffer
	cmd := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error { return nil }}
	c := AddCluster(cmd, &warn, ClusterUsage{Kind: "k", Cluster: "c", Multi: multi})
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return c, cmd.Flags().Args(), warn.String()
}

func TestClusterFlags(t *testing.T) {
	// --kind is a switch: what follows it is an argument.
	c, args, warn := parseCluster(t, false, "--kind", "fleet-test")
	if names, _ := c.Names(); !c.On || len(names) != 0 || !slices.Equal(args, []string{"fleet-test"}) || warn != "" {
		t.Errorf("--kind fleet-test: on %v names %v args %v warn %q", c.On, names, args, warn)
	}
	// --kind=NAME is the old spelling: it still names the cluster, with a notice.
	c, _, warn = parseCluster(t, false, "--kind=fleet-test")
	if names, _ := c.Names(); !c.On || !slices.Equal(names, []string{"fleet-test"}) || !strings.Contains(warn, "write --cluster fleet-test") {
		t.Errorf("--kind=fleet-test: on %v names %v warn %q", c.On, names, warn)
	}
	// --cluster names the cluster and implies Kind.
	c, _, _ = parseCluster(t, false, "--cluster", "a")
	if names, _ := c.Names(); !c.Wanted() || !slices.Equal(names, []string{"a"}) {
		t.Errorf("--cluster a: wanted %v names %v", c.Wanted(), names)
	}
	c, _, _ = parseCluster(t, false, "--kind=false")
	if c.Wanted() {
		t.Error("--kind=false wants Kind")
	}
	if c, _, _ := parseCluster(t, false, "--cluster", "a", "--kind=b"); c != nil {
		if _, err := c.Names(); err == nil {
			t.Error("two clusters on a one-cluster command")
		}
	}
	// Several on clean, prune, ls; the old --kind=a,b too.
	c, _, _ = parseCluster(t, true, "--cluster", "a", "--cluster", "b", "--kind=c,a")
	if names, err := c.Names(); err != nil || !slices.Equal(names, []string{"a", "b", "c"}) {
		t.Errorf("multi: %v %v", names, err)
	}
	if names, err := c.Resolve("cfg"); err != nil || len(names) != 3 {
		t.Errorf("Resolve with names: %v %v", names, err)
	}
	// --kind alone resolves the default cluster: KIND_CLUSTER_NAME first.
	t.Setenv("KIND_CLUSTER_NAME", "from-env")
	c, _, _ = parseCluster(t, true, "--kind")
	if names, err := c.Resolve("from-config"); err != nil || !slices.Equal(names, []string{"from-env"}) {
		t.Errorf("--kind with KIND_CLUSTER_NAME: %v %v", names, err)
	}
	t.Setenv("KIND_CLUSTER_NAME", "")
	if names, err := c.Resolve("from-config"); err != nil || !slices.Equal(names, []string{"from-config"}) {
		t.Errorf("--kind with the config's cluster: %v %v", names, err)
	}
	c, _, _ = parseCluster(t, true)
	if names, err := c.Resolve("from-config"); err != nil || names != nil {
		t.Errorf("no flag: %v %v", names, err)
	}
}

// On clean, prune and ls --kind took a value after a space; that spelling
// leaves the cluster as an argument, which is still read as the cluster.
func TestClusterLegacyArgs(t *testing.T) {
	c, args, _ := parseCluster(t, true, "--kind", "old-c")
	cmd := &cobra.Command{Use: "prune"}
	if err := c.Args(cmd, args); err != nil {
		t.Fatalf("--kind old-c refused: %v", err)
	}
	var warn bytes.Buffer
	c.warn = &warn
	c.Legacy(args)
	if names, _ := c.Names(); !slices.Equal(names, []string{"old-c"}) || !strings.Contains(warn.String(), "write --cluster old-c") {
		t.Errorf("names %v, warn %q", names, warn.String())
	}
	c, args, _ = parseCluster(t, true, "extra")
	if err := c.Args(cmd, args); err == nil {
		t.Error("an argument without --kind was taken")
	}
}
