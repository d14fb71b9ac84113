package inputs

// IgnorePatterns returns the .dockerignore patterns BuildKit applies to the
// context dir of a build of dockerfile: <dockerfile>.dockerignore, else
// <dir>/.dockerignore (dockerfile "" for a named context: its root's only).
// File watchers use it to skip what no build can see.
func IgnorePatterns(dir, dockerfile string) ([]string, error) { return ignorePatterns(dir, dockerfile) }
