package api

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"

	"github.com/communeradio/radio/firmware-api/nodeproto"
)

// KeyStatus shows the signing keys and which nodes have not yet applied
// the latest desired state (and so may not trust a prepared key yet).
type KeyStatus struct {
	Current nodeproto.Key   `json:"current"`
	Next    *nodeproto.Key  `json:"next,omitempty"`
	Trusted []nodeproto.Key `json:"trusted"` // sent to nodes in desired state
	Pending []string        `json:"pending"` // nodes behind on desired state
}

func (a *API) keyStatus(ctx context.Context) (KeyStatus, error) {
	st := KeyStatus{Current: a.cfg.Signer.Key(), Trusted: a.cfg.Signer.Keys(), Pending: []string{}}
	if n, ok := a.cfg.Signer.Next(); ok {
		st.Next = &n
	}
	revs, err := a.cfg.Registry.DesiredRevs(ctx)
	if err != nil {
		return st, err
	}
	states, err := a.cfg.Registry.ListNodeStates(ctx)
	if err != nil {
		return st, err
	}
	applied := map[string]int64{}
	for _, s := range states {
		var ns nodeproto.State
		if json.Unmarshal(s.State, &ns) == nil {
			applied[s.NodeID] = ns.DesiredRev
		}
	}
	for node, rev := range revs {
		if applied[node] < rev {
			st.Pending = append(st.Pending, node)
		}
	}
	sort.Strings(st.Pending)
	return st, nil
}

func (a *API) getKeys(w http.ResponseWriter, r *http.Request) error {
	if err := requireAdmin(r); err != nil {
		return err
	}
	st, err := a.keyStatus(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

// rotateKey runs one step of a key rotation: "prepare" makes the next key
// and sends every node desired state trusting both; "commit" makes it the
// signing key once no node is behind (or with force, leaving those nodes to
// be re-enrolled).
func (a *API) rotateKey(w http.ResponseWriter, r *http.Request) error {
	if err := requireAdmin(r); err != nil {
		return err
	}
	var req struct {
		Step  string `json:"step"`
		Force bool   `json:"force,omitempty"`
	}
	if err := readJSON(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	switch req.Step {
	case "prepare":
		k, err := a.cfg.Signer.Prepare()
		if err != nil {
			return err
		}
		a.audit(r, "", "key.prepare", k.ID, "")
	case "commit":
		st, err := a.keyStatus(ctx)
		if err != nil {
			return err
		}
		if len(st.Pending) > 0 && !req.Force {
			return errorf(http.StatusConflict, "%d node(s) have not yet applied the desired state that trusts the new key (%v): wait until they are online, or commit with force and re-enrol them", len(st.Pending), st.Pending)
		}
		k, err := a.cfg.Signer.Commit()
		if err != nil {
			return errorf(http.StatusConflict, "%v", err)
		}
		a.audit(r, "", "key.commit", k.ID, "")
	default:
		return errorf(http.StatusBadRequest, `step: "prepare" or "commit"`)
	}
	nodes, err := a.cfg.Registry.ListNodes(ctx, "")
	if err != nil {
		return err
	}
	var ids []string
	for _, n := range nodes {
		if !n.Revoked {
			ids = append(ids, n.ID)
		}
	}
	if err := a.publishDesired(ctx, ids...); err != nil {
		return err
	}
	st, err := a.keyStatus(ctx)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}
