// Package tarname cleans the names of tar entries and link targets, refusing
// those that would leave the tree they belong to.
package tarname
