package e2e_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("the fleet e2e group", func() {
	It("built (or reused) exactly the group's services", func() {
		Expect(sortedKeys(suite.Images)).To(ConsistOf(e2eServices))
		for svc, st := range suite.Status {
			Expect(st).To(BeElementOf("built", "reused"), svc)
		}
	})

	It("wrote each built service's log to the writer Options.Logs gave it", func() {
		for _, svc := range e2eServices {
			path := filepath.Join(suite.LogDir, svc+".log")
			if suite.Status[svc] == "reused" {
				// Same inputs as an existing image: no build ran, no log.
				GinkgoWriter.Printf("%s: reused, no build log\n", svc)
				continue
			}
			log, err := os.ReadFile(path)
			Expect(err).NotTo(HaveOccurred())
			Expect(log).NotTo(BeEmpty(), "%s's log is empty", path)
			GinkgoWriter.Printf("%s: %d bytes of build log in %s\n", svc, len(log), path)
		}
	})

	DescribeTable("each image runs on a node of the cluster", tableArgs(
		func(ctx SpecContext, svc string) {
			ref := suite.Images[svc]
			Expect(ref).NotTo(BeEmpty(), "no image for %s", svc)
			node := suite.Cluster + "-worker"
			name := fmt.Sprintf("e2e-%s-%d-%d", svc, GinkgoParallelProcess(), time.Now().UnixNano())
			out, err := exec.CommandContext(ctx, "docker", "exec", node,
				"ctr", "-n", "k8s.io", "run", "--rm", ref, name).CombinedOutput()
			Expect(err).NotTo(HaveOccurred(), "running %s on %s: %s", ref, node, out)
			GinkgoWriter.Printf("%s on %s: %s", svc, node, out)
			Expect(strings.TrimSpace(string(out))).To(HavePrefix(svc + " ok"))
		},
		func(svc string) string { return svc }, // entry description
	)...)
})

// tableArgs appends one entry per e2e service to DescribeTable's arguments.
func tableArgs(args ...any) []any {
	for _, svc := range e2eServices {
		args = append(args, Entry(nil, svc, SpecTimeout(time.Minute)))
	}
	return args
}
