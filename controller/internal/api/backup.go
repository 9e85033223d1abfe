package api

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/communeradio/radio/controller/internal/backup"
)

// BackupFunc streams a backup of the controller's data to w.
type BackupFunc func(ctx context.Context, w io.Writer) (backup.Manifest, error)

// lazyHeader sends the 200 and the tar's headers on the first byte: until
// then a failure can still be answered with an error the operator reads.
type lazyHeader struct {
	w       http.ResponseWriter
	started bool
	name    string
}

func (l *lazyHeader) Write(b []byte) (int, error) {
	if !l.started {
		l.started = true
		l.w.Header().Set("Content-Type", "application/x-tar")
		l.w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", l.name))
		l.w.WriteHeader(http.StatusOK)
	}
	return l.w.Write(b)
}

// backup streams a consistent copy of the registry, recordings, signing
// keys, programmes and secret files as a tar (see package backup); radioctl
// backup DIR unpacks and checks it. Administrators only: it holds the keys.
func (a *API) backup(w http.ResponseWriter, r *http.Request) error {
	if err := requireAdmin(r); err != nil {
		return err
	}
	if a.cfg.Backup == nil {
		return errorf(http.StatusServiceUnavailable, "this controller does not make backups")
	}
	out := &lazyHeader{w: w, name: "radio-backup-" + a.now().Format("20060102-150405") + ".tar"}
	m, err := a.cfg.Backup(r.Context(), out)
	if err != nil {
		a.audit(r, "", "backup.failed", "", err.Error())
		if !out.started {
			return err
		}
		// Half a tar is on its way: cut the connection, so the client sees
		// a broken stream (and no manifest), never a short backup.
		a.cfg.Logger.Error("backup failed while streaming", "err", err)
		panic(http.ErrAbortHandler)
	}
	a.audit(r, "", "backup", "", fmt.Sprintf("%d files, registry schema %d", len(m.Files), m.Schema))
	return nil
}
