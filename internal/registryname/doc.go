// Package registryname spells registry names one way, so that the ?ns= of a
// request, the registry of an image's name and the name given to an upstream
// compare equal: lower case, with Docker Hub's hosts as docker.io.
package registryname
