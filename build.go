package slipway

import (
	"context"
	"maps"
	"slices"

	"github.com/slipway-dev/slipway/internal/clusters"
	"github.com/slipway-dev/slipway/internal/labels"
	"github.com/slipway-dev/slipway/internal/pipeline"
	"github.com/slipway-dev/slipway/internal/plan"
)

// Options says what to build and how (see internal/pipeline for every
// field): which services, tags, concurrency, engine, and where images go.
type Options = pipeline.Options

// Image is one service's outcome: its reference, ID, status, log, and
// where it was loaded or pushed.
type Image = pipeline.Image

// Result is what a run made, by service, with its run record.
type Result = pipeline.Result

// KindOptions says which Kind cluster, and which of its nodes, get images.
type KindOptions = clusters.KindOptions

// Loaded is one image's load into a cluster.
type Loaded = clusters.Loaded

// Ref is an image reference split into its name and tag.
type Ref = plan.Ref

// Label keys slipway sets on every image it makes.
const (
	LabelService = labels.Service
	LabelUser    = labels.User
	LabelRun     = labels.Run
	LabelProject = labels.Project
	LabelCreated = labels.Created
	LabelRef     = labels.Ref
	LabelInputs  = labels.Inputs
)

// Build builds the selected services and returns every outcome. Bad input
// returns a *UsageError before anything is built; failed builds return the
// Result and an error wrapping ErrBuildFailed; cancellation returns ctx's error.
func Build(ctx context.Context, o Options) (*Result, error) { return pipeline.Build(ctx, o) }

// Tags returns the references a build with o would produce, without
// reserving them or asking the engine.
func Tags(ctx context.Context, o Options) (map[string]string, error) { return pipeline.Tags(ctx, o) }

// DefaultJobs is the number of builds that always may run at once: the
// CPUs, fewer when memory is short.
func DefaultJobs() int { return pipeline.DefaultJobs() }

// NodeSummary is "cluster: node=action ..." for tables and logs.
func NodeSummary(l *Loaded) string { return l.Summary() }

// SortedServices returns m's keys in order.
func SortedServices[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
