package registryname

import "strings"

// Normalize is name in lower case, with Docker Hub's hosts as docker.io.
func Normalize(name string) string {
	name = strings.ToLower(name)
	switch name {
	case "index.docker.io", "registry-1.docker.io":
		return "docker.io"
	}
	return name
}
