package remote

import (
	"context"
	"io"
	"net/http"
)

// Download returns the whole object at location, as one GET without Range
// sends it: for a server that ignores Range (ErrNoRange), whose object can
// only be read by keeping a copy. Its body fails with ErrTimeout when
// nothing comes for Options.IdleTimeout; a dropped connection is not resumed.
func Download(ctx context.Context, location string, opts Options) (io.ReadCloser, error) {
	s, err := newSource(ctx, location, opts)
	if err != nil {
		return nil, err
	}
	var resp *http.Response
	err = s.retry(ctx, func() (err error) {
		if resp, err = s.do(ctx, 0, -1); err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			defer resp.Body.Close()
			return statusError(s.name, resp)
		}
		return nil
	})
	if err != nil {
		return nil, s.credentialsHint(err)
	}
	return resp.Body, nil
}
