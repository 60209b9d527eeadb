# Build, test and demo ocitar. Every target works on a fresh Debian machine with Go;
# run as root, `make test` installs what the tests need (see hack/install-deps.sh).

GO       ?= go
BIN      := $(CURDIR)/bin
# The tags skopeo uses to build without C libraries a fresh machine lacks (gpgme, btrfs, devicemapper).
TAGS     := containers_image_openpgp,exclude_graphdriver_btrfs,exclude_graphdriver_devicemapper
export GOFLAGS := -tags=$(TAGS)

.PHONY: all build test unit deps demo bench testdata clean

all: build

build:
	$(GO) build -o $(BIN)/ocitar ./cmd/ocitar

deps:
	bash hack/install-deps.sh

test: deps build
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...

unit:
	$(GO) test -count=1 ./archive/... ./transport/...

demo: build
	bash hack/demo.sh

bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./archive/
	bash bench/compare.sh

testdata:
	$(GO) run ./internal/testimage/gentestdata testdata

clean:
	rm -rf $(BIN) out
