package config

import (
	"slices"
	"testing"
)

func TestShardDisjointCompleteAndKeepsDependencies(t *testing.T) {
	c := &Config{Services: map[string]*Service{}}
	names := []string{"base", "api", "web", "worker", "cron", "db", "cache", "gateway"}
	for _, n := range names {
		c.Services[n] = &Service{Name: n}
	}
	c.Services["api"].DependsOn = []string{"base"}
	c.Services["web"].DependsOn = []string{"base"}
	c.Services["worker"].DependsOn = []string{"db"}
	for n := 1; n <= 5; n++ {
		seen := map[string]int{}
		for i := 1; i <= n; i++ {
			part := c.Shard(names, i, n)
			if !slices.Equal(part, c.Shard(names, i, n)) {
				t.Fatalf("n=%d: shard %d not deterministic", n, i)
			}
			for _, s := range part {
				seen[s]++
			}
			for _, s := range part {
				for _, d := range c.Services[s].DependsOn {
					if !slices.Contains(part, d) {
						t.Errorf("n=%d shard %d: %s without its dependency %s", n, i, s, d)
					}
				}
			}
		}
		for _, s := range names {
			if seen[s] != 1 {
				t.Errorf("n=%d: %s in %d shards", n, s, seen[s])
			}
		}
	}
	for _, bad := range []string{"0/2", "3/2", "1/0", "x", "1-2"} {
		if _, _, err := ParseShard(bad); err == nil {
			t.Errorf("ParseShard(%q) accepted", bad)
		}
	}
}
