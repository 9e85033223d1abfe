package api

import "net/http"

// The approvals resource: what waits for a commune's leader.

func (a *API) listApprovals(w http.ResponseWriter, r *http.Request) error {
	stations, err := a.stationsInScope(r)
	if err != nil {
		return err
	}
	out, err := a.cfg.Schedules.Approvals(func(st string) bool { _, ok := stations[st]; return ok })
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
