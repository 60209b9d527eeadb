package main

import (
	"crypto/sha256"
	"fmt"
	"runtime"
	"strings"
	"time"
)

// hashRate is how many bytes a second SHA-256 digests on one core here.
func hashRate() float64 {
	const chunks = 256
	buf := make([]byte, 1<<20)
	h := sha256.New()
	start := time.Now()
	for range chunks {
		h.Write(buf)
	}
	return chunks << 20 / time.Since(start).Seconds()
}

// writeFloor puts beside cp's time for the main image an estimate of two
// costs a copy that checks every digest and makes its file durable cannot
// avoid: hashing every byte once at rate bytes a second (the cores sharing it
// with moving the bytes as cp does), and getting the bytes to disk, which
// cp && sync measures without overlapping it with the copy. It is an estimate,
// not a bound: a writer that starts write-back early overlaps the two.
func writeFloor(b *strings.Builder, size int64, rate float64, results []groupResult) {
	var cp, cpSync *stats
	for _, g := range results {
		if strings.HasPrefix(g.title, "convert docker-save") {
			cp, cpSync = g.row("cp X Y"), g.row("cp X Y && sync")
		}
	}
	if cp == nil || cpSync == nil {
		return
	}
	hash := time.Duration(float64(size) / rate * float64(time.Second))
	cpuFloor := (hash + cp.cpu) / time.Duration(runtime.NumCPU())
	fmt.Fprintf(b, "\nAn estimate of what a copy that checks digests and fsyncs cannot avoid, beside cp's %d ms for the %d MiB image: "+
		"hashing every byte once takes %d ms of one core (the rate under Machine); with the %d ms of CPU that cp spends moving the bytes, "+
		"spread over %d cores, that is %d ms (%.2fx cp). And the bytes must reach the disk: the simplest durable copy, `cp X Y && sync`, takes %d ms (%.2fx cp), "+
		"though a copy that starts write-back early overlaps part of that with its work.\n",
		cp.wall.Milliseconds(), size>>20, hash.Milliseconds(), cp.cpu.Milliseconds(), runtime.NumCPU(),
		cpuFloor.Milliseconds(), ratio(cpuFloor, cp.wall), cpSync.wall.Milliseconds(), ratio(cpSync.wall, cp.wall))
}
