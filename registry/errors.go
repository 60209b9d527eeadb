package registry

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// errorCode is an error code of the distribution spec and the status it is sent with.
type errorCode struct {
	code   string
	status int
}

var (
	errNameInvalid       = errorCode{"NAME_INVALID", http.StatusBadRequest}
	errNameUnknown       = errorCode{"NAME_UNKNOWN", http.StatusNotFound}
	errManifestUnknown   = errorCode{"MANIFEST_UNKNOWN", http.StatusNotFound}
	errBlobUnknown       = errorCode{"BLOB_UNKNOWN", http.StatusNotFound}
	errDigestInvalid     = errorCode{"DIGEST_INVALID", http.StatusBadRequest}
	errTagInvalid        = errorCode{"TAG_INVALID", http.StatusBadRequest}
	errPaginationInvalid = errorCode{"PAGINATION_NUMBER_INVALID", http.StatusBadRequest}
	errRangeInvalid      = errorCode{"RANGE_INVALID", http.StatusRequestedRangeNotSatisfiable}
	errUnsupported       = errorCode{"UNSUPPORTED", http.StatusMethodNotAllowed}
	errNotFound          = errorCode{"UNSUPPORTED", http.StatusNotFound}
	errURITooLong        = errorCode{"UNSUPPORTED", http.StatusRequestURITooLong}
	errUnauthorized      = errorCode{"UNAUTHORIZED", http.StatusUnauthorized}
	errUnknown           = errorCode{"UNKNOWN", http.StatusInternalServerError}
	errBadGateway        = errorCode{"UNKNOWN", http.StatusBadGateway}
)

type errorBody struct {
	Errors []errorEntry `json:"errors"`
}

type errorEntry struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// writeError answers with the distribution spec's error JSON.
func writeError(w http.ResponseWriter, e errorCode, message string) {
	body, _ := json.Marshal(errorBody{Errors: []errorEntry{{Code: e.code, Message: message}}})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.status)
	w.Write(body)
}
