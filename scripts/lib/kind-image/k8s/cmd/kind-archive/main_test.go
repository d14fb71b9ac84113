package main

import "testing"

func TestQualify(t *testing.T) {
	for in, want := range map[string]string{
		"kindest/kindnetd:v1":                "docker.io/kindest/kindnetd:v1",
		"busybox":                            "docker.io/library/busybox",
		"busybox:1":                          "docker.io/library/busybox:1",
		"registry.k8s.io/pause:3.10":         "registry.k8s.io/pause:3.10",
		"registry.k8s.io/coredns/coredns:v1": "registry.k8s.io/coredns/coredns:v1",
		"localhost:5000/x:y":                 "localhost:5000/x:y",
		"localhost/x:y":                      "localhost/x:y",
		"kindest/node@sha256:abc":            "docker.io/kindest/node@sha256:abc",
	} {
		if got := qualify(in); got != want {
			t.Errorf("qualify(%q) = %q, want %q", in, got, want)
		}
	}
}
