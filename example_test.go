package slipway_test

import (
	"context"
	"fmt"
	"os"

	"github.com/slipway-dev/slipway"
)

// Build the services of a repository, use the image map, then remove
// exactly what the run made.
func ExampleBuild() {
	ctx := context.Background()
	res, err := slipway.Build(ctx, slipway.Options{Config: "testdata/hello", Services: []string{"all"}})
	if err != nil {
		fmt.Println("build failed:", err)
		return
	}
	for _, svc := range res.Order {
		fmt.Println(svc, res.Images[svc].Status.Produced())
	}
	if _, err := res.Clean(ctx); err != nil {
		fmt.Println("clean failed:", err)
	}
}

// The shape E2E suites already call: names in, service → image reference out,
// progress and logs to a writer.
func ExampleBuildImagesInParallel() {
	refs, err := slipway.BuildImagesInParallel([]string{"greeter"}, "testdata/hello", os.Stderr)
	if err != nil {
		fmt.Println("build failed:", err)
		return
	}
	fmt.Println(len(refs), refs["greeter"] != "")
}

// Print the references a build would produce, without building.
func ExampleTags() {
	refs, err := slipway.Tags(context.Background(), slipway.Options{Config: "testdata/hello", Tag: "ci-1234"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(refs["echoer"])
	// Output: localhost/hello-echoer:ci-1234
}
