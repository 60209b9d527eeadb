package main

import (
	"math"
	"os"
	"runtime/debug"
	"testing"
)

func TestLimitMemory(t *testing.T) {
	tests := []struct {
		name string
		env  string // GOMEMLIMIT, "" for unset
		want int64
	}{
		{"unset", "", defaultMemoryLimit},
		{"set by the user", "1GiB", math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := debug.SetMemoryLimit(math.MaxInt64)
			t.Cleanup(func() { debug.SetMemoryLimit(before) })
			t.Setenv("GOMEMLIMIT", tt.env)
			if tt.env == "" {
				os.Unsetenv("GOMEMLIMIT")
			}
			limitMemory()
			if got := debug.SetMemoryLimit(-1); got != tt.want {
				t.Errorf("the memory limit is %d, want %d", got, tt.want)
			}
		})
	}
}
