# Build, test and demo ocitar. Every target works on a fresh Debian machine with Go;
# run as root, `make test` installs what the tests need (see hack/install-deps.sh).

GO       ?= go
BIN      := $(CURDIR)/bin
# The tags skopeo uses to build without C libraries a fresh machine lacks (gpgme, btrfs, devicemapper).
TAGS     := containers_image_openpgp,exclude_graphdriver_btrfs,exclude_graphdriver_devicemapper
export GOFLAGS := -tags=$(TAGS)

.PHONY: all build test unit deps demo bench bench-smoke fuzz fuzz-smoke testdata clean skopeo test-skopeo

all: build

build:
	$(GO) build -o $(BIN)/ocitar ./cmd/ocitar

deps:
	bash hack/install-deps.sh

test: deps build
	$(GO) vet ./...
	$(GO) vet -tags $(TAGS),skopeo ./integration/
	$(GO) test -race -count=1 -timeout 30m ./...
	$(MAKE) bench-smoke
	$(MAKE) fuzz-smoke

unit:
	$(GO) test -count=1 ./archive/... ./store/... ./rootfs/... ./internal/... ./transport/...

demo: build
	bash hack/demo.sh

# The side-by-side benchmark of issue 6 (bench/main.go): corpus in bench/work, report in bench/RESULTS.md.
bench: build
	$(GO) run ./bench

# The same on a tiny corpus, one run: fails if any command fails.
bench-smoke: build
	$(GO) run ./bench -smoke -work out/bench-smoke/work -out out/bench-smoke/RESULTS.md

testdata:
	$(GO) run ./internal/testimage/gentestdata testdata

# A skopeo that speaks oci-tar:, built from the skopeo source tree SKOPEO_SRC
# (left unchanged; hack/build-skopeo.sh says how), into bin/skopeo.
SKOPEO_SRC ?=
skopeo:
	bash hack/build-skopeo.sh "$(SKOPEO_SRC)" $(BIN)/skopeo

# That skopeo driven through its CLI by integration/builtskopeo_*_test.go
# (build tag skopeo), beside the peers of make test.
test-skopeo: deps skopeo
	SKOPEO=$(BIN)/skopeo SKOPEO_SRC="$(abspath $(SKOPEO_SRC))" \
		$(GO) test -tags $(TAGS),skopeo -count=1 -timeout 30m -run '^TestBuiltSkopeo' ./integration/

clean:
	rm -rf $(BIN) out

# Every fuzz target, FUZZTIME each (docs/hardening.md records the last long run).
# `make -j2 fuzz FUZZPARALLEL=1` runs two targets at once, one worker each.
FUZZTIME     ?= 10m
FUZZPARALLEL ?= 2
# Go minimizes every new interesting input for up to 60 s by default, which
# stalls fuzzing of whole archives; 5 s keeps the workers fuzzing.
FUZZMINIMIZETIME ?= 5s
FUZZ_TARGETS := \
	archive/FuzzOpen archive/FuzzTarIndex archive/FuzzDockerSave archive/FuzzParseSelector archive/FuzzDecodeEntries \
	transport/FuzzParseReference \
	source/zstdseek/FuzzReadSeekTable source/zstdseek/FuzzWalkFrames \
	source/gzindex/FuzzUnmarshalIndex source/gzindex/FuzzReadTable source/gzindex/FuzzResume \
	cache/FuzzReadIndex

fuzz: $(FUZZ_TARGETS:%=fuzz/%)

fuzz/%:
	$(GO) test -run '^$$' -fuzz '^$(notdir $*)$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) -parallel $(FUZZPARALLEL) ./$(dir $*)

# A few seconds of each fuzz target, for make test: a count of executions, not
# a duration, because go1.26's fuzzing coordinator can fail a run that ends on
# its -fuzztime deadline with a bare "context deadline exceeded" and no crasher
# (golang/go#75804, fixed in go1.27).
FUZZSMOKE ?= 50000x
fuzz-smoke:
	$(MAKE) fuzz FUZZTIME=$(FUZZSMOKE)
