// Package version reports the build version of fleet services.
package version

// Version is overridden at link time with -ldflags "-X example.com/fleet/internal/version.Version=...".
var Version = "dev"

// String returns the version string.
func String() string { return "v=" + Version }
