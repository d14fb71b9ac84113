// Command kindnetd is a small stand-in for kind's kindnetd (whose module is
// not served here), doing the part of its job a kind cluster needs:
//
//   - it writes this node's CNI config: the ptp plugin with host-local IPAM
//     over the node's podCIDRs (allocated by kube-controller-manager), and
//     portmap for hostPort — the same plugins kind's base image ships;
//   - it routes every other node's podCIDRs via that node's InternalIP, so
//     pods on different nodes reach each other over the kind network.
//
// Masquerading of traffic leaving the cluster is the ptp plugin's (ipMasq),
// not an ip-masq-agent: pod-to-pod traffic across nodes is SNATed to the
// node address as a consequence, which kind clusters' users do not observe
// in the usual tests. NetworkPolicy (kindnetd v1.x) is not implemented.
//
// It reads the environment kind's manifest gives it (HOST_IP, POD_SUBNET)
// and finds its node by hostname (hostNetwork pods have the node's).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

const (
	cniConfigPath = "/etc/cni/net.d/10-kindnet.conflist"
	resync        = 30 * time.Second
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		log.Fatalf("kindnetd: %v", err)
	}
}

func run(ctx context.Context) error {
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return fmt.Errorf("reading the in-cluster config: %w", err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("creating the Kubernetes client: %w", err)
	}
	self, err := os.Hostname()
	if err != nil {
		return fmt.Errorf("reading the hostname: %w", err)
	}
	hostIP := os.Getenv("HOST_IP")
	log.Printf("kindnetd: node %q, host IP %q, pod subnet %q", self, hostIP, os.Getenv("POD_SUBNET"))

	factory := informers.NewSharedInformerFactory(client, resync)
	nodes := factory.Core().V1().Nodes()
	// Every change to any node reconciles everything: a handful of nodes, and
	// it keeps the routes right after missed events too.
	kick := make(chan struct{}, 1)
	poke := func(any) {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	if _, err := nodes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    poke,
		UpdateFunc: func(_, n any) { poke(n) },
		DeleteFunc: poke,
	}); err != nil {
		return fmt.Errorf("watching nodes: %w", err)
	}
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), nodes.Informer().HasSynced) {
		return ctx.Err()
	}
	tick := time.NewTicker(resync)
	defer tick.Stop()
	for {
		list, err := nodes.Lister().List(labels.Everything())
		if err != nil {
			log.Printf("kindnetd: listing nodes: %v", err)
		} else if err := reconcile(list, self, hostIP); err != nil {
			log.Printf("kindnetd: %v", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-kick:
		case <-tick.C:
		}
	}
}

// reconcile writes this node's CNI config and routes the other nodes' pod
// CIDRs; it returns the first error after trying everything.
func reconcile(nodes []*corev1.Node, self, hostIP string) error {
	var errs []error
	for _, n := range nodes {
		if isSelf(n, self, hostIP) {
			if err := writeCNIConfig(podCIDRs(n)); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		for _, cidr := range podCIDRs(n) {
			if err := routeVia(n, cidr); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func isSelf(n *corev1.Node, self, hostIP string) bool {
	if n.Name == self {
		return true
	}
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP && a.Address == hostIP && hostIP != "" {
			return true
		}
	}
	return false
}

func podCIDRs(n *corev1.Node) []string {
	if len(n.Spec.PodCIDRs) > 0 {
		return n.Spec.PodCIDRs
	}
	if n.Spec.PodCIDR != "" {
		return []string{n.Spec.PodCIDR}
	}
	return nil
}

// routeVia routes cidr via the node's InternalIP of the same family.
func routeVia(n *corev1.Node, cidr string) error {
	_, dst, err := net.ParseCIDR(cidr)
	if err != nil {
		return fmt.Errorf("node %s: parsing podCIDR %q: %w", n.Name, cidr, err)
	}
	var gw net.IP
	for _, a := range n.Status.Addresses {
		ip := net.ParseIP(a.Address)
		if a.Type == corev1.NodeInternalIP && ip != nil && (ip.To4() != nil) == (dst.IP.To4() != nil) {
			gw = ip
			break
		}
	}
	if gw == nil {
		return nil // no address yet; the node's next update brings it
	}
	route := &netlink.Route{Dst: dst, Gw: gw}
	if err := netlink.RouteReplace(route); err != nil {
		return fmt.Errorf("routing %s via %s (node %s): %w", dst, gw, n.Name, err)
	}
	return nil
}

type ipRange struct {
	Subnet string `json:"subnet"`
}

type cniPlugin struct {
	Type         string          `json:"type"`
	IPMasq       *bool           `json:"ipMasq,omitempty"`
	MTU          int             `json:"mtu,omitempty"`
	IPAM         *cniIPAM        `json:"ipam,omitempty"`
	Capabilities map[string]bool `json:"capabilities,omitempty"`
}

type cniIPAM struct {
	Type    string              `json:"type"`
	DataDir string              `json:"dataDir"`
	Routes  []map[string]string `json:"routes"`
	Ranges  [][]ipRange         `json:"ranges"`
}

// writeCNIConfig writes the conflist for the node's pod CIDRs, atomically
// and only when it changes (containerd reloads on every write).
func writeCNIConfig(cidrs []string) error {
	if len(cidrs) == 0 {
		return nil // not allocated yet
	}
	ipam := &cniIPAM{Type: "host-local", DataDir: "/run/cni-ipam-state"}
	for _, c := range cidrs {
		ip, _, err := net.ParseCIDR(c)
		if err != nil {
			return fmt.Errorf("parsing this node's podCIDR %q: %w", c, err)
		}
		ipam.Ranges = append(ipam.Ranges, []ipRange{{Subnet: c}})
		if ip.To4() != nil {
			ipam.Routes = append(ipam.Routes, map[string]string{"dst": "0.0.0.0/0"})
		} else {
			ipam.Routes = append(ipam.Routes, map[string]string{"dst": "::/0"})
		}
	}
	masq := true
	conf := map[string]any{
		"cniVersion": "0.4.0",
		"name":       "kindnet",
		"plugins": []cniPlugin{
			{Type: "ptp", IPMasq: &masq, MTU: defaultMTU(), IPAM: ipam},
			{Type: "portmap", Capabilities: map[string]bool{"portMappings": true}},
		},
	}
	data, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the CNI config: %w", err)
	}
	if old, err := os.ReadFile(cniConfigPath); err == nil && bytes.Equal(old, data) {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(cniConfigPath), ".kindnet-*.tmp")
	if err != nil {
		return fmt.Errorf("writing the CNI config: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing the CNI config: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing the CNI config: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("writing the CNI config: %w", err)
	}
	if err := os.Rename(tmp.Name(), cniConfigPath); err != nil {
		return fmt.Errorf("installing the CNI config: %w", err)
	}
	log.Printf("kindnetd: wrote %s for %v", cniConfigPath, cidrs)
	return nil
}

// defaultMTU is the MTU of the interface holding the default route (the kind
// network's), 1500 when there is none.
func defaultMTU() int {
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return 1500
	}
	for _, r := range routes {
		if r.Dst != nil && !r.Dst.IP.IsUnspecified() {
			continue
		}
		if link, err := netlink.LinkByIndex(r.LinkIndex); err == nil && link.Attrs().MTU > 0 {
			return link.Attrs().MTU
		}
	}
	return 1500
}
