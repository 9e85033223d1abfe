package nodeproto

import (
	"fmt"
	"net/url"
)

// EnrolPath is where a box redeems its one-time enrolment code, over HTTPS
// (PROTOCOL.md §3, step 0). It is the one request a node makes outside
// MQTT, and the only one without credentials: the code is them.
const EnrolPath = "/api/v1/enrol"

// EnrolRequest is the body of POST EnrolPath.
type EnrolRequest struct {
	Code    string `json:"code"`              // as the installer typed it; case, blanks and dashes do not matter
	Version string `json:"version,omitempty"` // the node software's version, for the audit log
}

// Validate checks the request's shape (the controller checks the code).
func (r *EnrolRequest) Validate() error {
	if r.Code == "" || len(r.Code) > 64 {
		return fmt.Errorf("enrol: code: want 1 to 64 characters")
	}
	if len(r.Version) > 64 {
		return fmt.Errorf("enrol: version: at most 64 characters")
	}
	return nil
}

// Enrolment is the answer to an accepted code: what the node's config file
// needs (§3, step 0), and where the cluster was placed.
type Enrolment struct {
	ID             string   `json:"id"`
	Name           string   `json:"name,omitempty"`
	Station        string   `json:"station"`
	Zones          []string `json:"zones"`
	Secret         string   `json:"secret"`
	Broker         string   `json:"broker"`
	ControllerKeys []Key    `json:"controller_keys"`
	DataDir        string   `json:"data_dir"`
	// UpdateKeys verify signed node releases (§5, Update); absent: the
	// controller keeps no releases and the node installs none.
	UpdateKeys []Key `json:"update_keys,omitempty"`
}

// Validate checks that an enrolment makes a usable node config.
func (e *Enrolment) Validate() error {
	if err := CheckID("node", e.ID); err != nil {
		return fmt.Errorf("enrolment: %w", err)
	}
	if e.Secret == "" || e.DataDir == "" || e.Station == "" {
		return fmt.Errorf("enrolment %s: secret, station and data_dir are required", e.ID)
	}
	u, err := url.Parse(e.Broker)
	if err != nil || (u.Scheme != "tcp" && u.Scheme != "ssl") || u.Host == "" {
		return fmt.Errorf("enrolment %s: broker %q: want tcp://host:port or ssl://host:port", e.ID, e.Broker)
	}
	if len(e.ControllerKeys) == 0 {
		return fmt.Errorf("enrolment %s: no controller_keys", e.ID)
	}
	for _, k := range e.ControllerKeys {
		if k.ID == "" || len(k.Pub) != 32 {
			return fmt.Errorf("enrolment %s: controller key %q is not a 32-byte Ed25519 key", e.ID, k.ID)
		}
	}
	for _, k := range e.UpdateKeys {
		if k.ID == "" || len(k.Pub) != 32 {
			return fmt.Errorf("enrolment %s: update key %q is not a 32-byte Ed25519 key", e.ID, k.ID)
		}
	}
	for _, z := range e.Zones {
		if err := CheckID("zone", z); err != nil {
			return fmt.Errorf("enrolment %s: %w", e.ID, err)
		}
	}
	return nil
}
