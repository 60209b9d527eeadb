// Package hashing reads streams while hashing them in the background, and
// checks what was read against an expected digest and size.
package hashing
