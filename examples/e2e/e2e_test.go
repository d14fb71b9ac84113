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
			// The service's output is on stdout; ctr's own notices (containerd
			// 2.x warns about cgroup v1 on every call) go to stderr.
			cmd := exec.CommandContext(ctx, "docker", "exec", node,
				"ctr", "-n", "k8s.io", "run", "--rm", ref, name)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			Expect(err).NotTo(HaveOccurred(), "running %s on %s: %s%s", ref, node, out, stderr.String())
			GinkgoWriter.Printf("%s on %s: %s", svc, node, out)
			Expect(strings.TrimSpace(string(out))).To(HavePrefix(svc + " ok"))
		},
		func(svc string) string { return svc }, // entry description
	)...)
})

// On a real Kind cluster (SLIPWAY_E2E_NODE_IMAGE), each image also runs
// as a pod — a Deployment with imagePullPolicy: Never, so the kubelet must
// find the image slipway loaded — until the pod is Ready.
var _ = Describe("the fleet e2e group on a real Kind cluster", func() {
	if realNodeImage == "" {
		return // Kind-shaped nodes have no kubelet: `ctr run` above is the test
	}
	DescribeTable("each image runs as a Ready pod", tableArgs(
		func(ctx SpecContext, svc string) {
			Expect(suite.Real).To(BeTrue(), "process 1 did not make a real cluster")
			ref := suite.Images[svc]
			name := fmt.Sprintf("e2e-%s", svc)
			out, err := kubectl(ctx, suite.Cluster, deployment(name, ref, svc), "apply", "-f", "-")
			Expect(err).NotTo(HaveOccurred(), "applying %s: %s", name, out)
			out, err = kubectl(ctx, suite.Cluster, "", "rollout", "status", "deployment/"+name, "--timeout=3m")
			if err != nil {
				desc, _ := kubectl(ctx, suite.Cluster, "", "describe", "pods", "-l", "app="+name)
				Fail(fmt.Sprintf("%s never became Ready: %v\n%s\n%s", name, err, out, desc))
			}
			// The service printed its line before the container slept.
			Eventually(func() string {
				logs, _ := kubectl(ctx, suite.Cluster, "", "logs", "deployment/"+name)
				return string(logs)
			}).WithContext(ctx).WithTimeout(30 * time.Second).Should(HavePrefix(svc + " ok"))
		},
		func(svc string) string { return svc },
	)...)
})

// deployment is one pod of ref that runs the service once and sleeps (the
// fleet's services print and exit; a pod must stay up to be Ready).
func deployment(name, ref, svc string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
  labels: {app: %[1]s, slipway-e2e: "1"}
spec:
  replicas: 1
  selector:
    matchLabels: {app: %[1]s}
  template:
    metadata:
      labels: {app: %[1]s}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: app
        image: %[2]s
        imagePullPolicy: Never
        command: ["/bin/sh", "-c", "/usr/local/bin/%[3]s; exec sleep 2147483647"]
`, name, ref, svc)
}

// tableArgs appends one entry per e2e service to DescribeTable's arguments.
func tableArgs(args ...any) []any {
	for _, svc := range e2eServices {
		args = append(args, Entry(nil, svc, SpecTimeout(5*time.Minute)))
	}
	return args
}
